"""Quantizers of the A&B BNN, in Larq's quantizer conventions.

Each quantizer is a small Keras layer (Larq's `_BaseQuantizer`) registered for Keras
serialization and, where users pass it by name, under a string alias:

```python
lq.layers.QuantConv2D(64, 3, input_quantizer="sigmoid_sign", kernel_quantizer="scaled_std_sign")
```

The forward sign is Larq's `lq.math.sign` (0 maps to +1), the pattern Larq Compute Engine
recognises as a binarization; the reference PyTorch code maps 0 to 0, which differs only
on exact zeros.
"""

import tensorflow as tf
from larq import math as lq_math
from larq import utils as lq_utils
from larq.quantizers import _BaseQuantizer

from larq_abbnn import math as ab_math  # `larq.math` is Larq's
from larq_abbnn.layers_base import no_autograph

__all__ = [
    "SigmoidSign",
    "ScaledStd",
    "ScaledStdSign",
    "HardBinarySign",
    "sigmoid_sign",
    "scaled_weight_standardization",
]


def sigmoid_sign(x: tf.Tensor, k: float = 3.0) -> tf.Tensor:
    r"""Sign with the A&B BNN sigmoid pseudo-gradient.

    \\[
    q(x) = \begin{cases} -1 & x < 0 \\\ 1 & x \geq 0 \end{cases}, \qquad
    \frac{\partial q}{\partial x} \approx 2k\,\sigma(kx)\,(1 - \sigma(kx))
    \\]
    """

    @tf.custom_gradient
    def _call(x):
        def grad(dy):
            return _sigmoid_sign_grad(x, dy, tf.constant(k, x.dtype))

        return lq_math.sign(x), grad

    return _call(x)


# XLA fuses the pseudo-gradient's seven elementwise ops into one pass over the
# activations (2.3x faster than TF's op-by-op kernels on CPU; measured in
# benchmarks/training_throughput.py). Only the backward is compiled: the forward stays
# Larq's sign, which LCE's converter recognises.
@tf.function(jit_compile=True)
def _sigmoid_sign_grad(x: tf.Tensor, dy: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    s = tf.math.sigmoid(k * x)
    # Same association as the reference (2 * (k*s*(1-s))) so float64 runs agree to the
    # last bit where they can.
    return dy * (2 * (k * s * (1 - s)))


def scaled_weight_standardization(kernel: tf.Tensor, eps: float = 1e-5) -> tf.Tensor:
    r"""Scaled weight standardization of a Keras (HWIO) kernel, per output channel.

    \\[
    \hat W_o = \frac{n^{-1/2}\,(W_o - \mu_o)}{\sigma_o + \epsilon}, \quad n = k_h k_w I
    \\]

    with the population standard deviation, and eps added to the std (not the variance),
    as in NF-Nets ([Brock et al., 2021](https://arxiv.org/abs/2101.08692)) and the A&B
    BNN reference code.

    TensorFlow's own gradient of these ops is about 40 graph ops per kernel (815 of
    ReActNet-18's 4,415-op train step), which cost start-up time to trace: the gradient is
    one call of `_standardized_gradient`, traced once per rank and dtype
    (`ab_math.traced_once`). It takes the forward's intermediates; a traced gradient that
    recomputed the forward by autodiff cost 1-2% of the step's throughput.

    The per-channel means, here and in the gradient, are sums by `ab_math.channel_sum`'s
    GEMV divided by the count, where `tf.nn.moments` reduces over the leading axes, which
    TensorFlow does slowly on CPU: its `Mean` ops took 60 ms of op time per 1.47 s step of
    a full-width ReActNet-18 (Intel Xeon capped at AVX2), and the step ran at 1.02x without
    them (interleaved in one process). The forward's stay plain ops, not traced calls
    (`ab_math.traced_once`), which LCE's converter does not inline: its binary convs need
    the standardized kernel folded to constants.
    """
    kernel = tf.convert_to_tensor(kernel)
    fan_in = 1
    for dim in kernel.shape[:-1]:
        fan_in *= int(dim)
    # the scale as the constant a Python float becomes: the reference's fan_in ** -0.5
    scale = tf.constant(fan_in**-0.5, kernel.dtype)
    count = tf.constant(fan_in, kernel.dtype)

    @tf.custom_gradient
    def standardize(kernel):
        centered = kernel - ab_math.channel_sum(kernel) / count
        # the population variance, as `tf.nn.moments` and the reference compute it
        std = tf.sqrt(ab_math.channel_sum(tf.square(centered)) / count)
        denominator = std + eps

        def grad(dy):
            dkernel = _standardized_gradient_once(dy, centered, std, denominator)
            dkernel.set_shape(kernel.shape)
            return dkernel

        # Association matches the reference: (scale * (W - mean)) / (std + eps).
        return (scale * centered) / denominator, grad

    return standardize(kernel)


def _standardized_gradient(dy, centered, std, denominator):
    r"""dL/dW of \(\hat W = s\,c / d\), with \(s = n^{-1/2}\), \(c = W - \mu\),
    \(d = \sigma + \epsilon\), per output channel over its n = fan-in entries, given
    \(g = dL/d\hat W\):

    \[ \frac{dL}{dW} = \frac{s}{d}\Big[(g - \bar g) - c\,\frac{\overline{g c}}{d\,\sigma}\Big] \]

    (bars are means over the channel's entries): the mean's gradient gives \(-\bar g\),
    the std's \(\partial\sigma/\partial W = c / (n \sigma)\), as TensorFlow differentiates
    `tf.nn.moments` (its variance holds the mean constant). Written out because TensorFlow's
    own is ~40 graph ops; equal to it within rounding (tests/test_quantizers.py, float64).
    """
    count = tf.cast(tf.size(dy) // tf.shape(dy)[-1], dy.dtype)
    # s from the count here, not passed in: a constant argument makes Grappler specialize
    # the function for each conv (20 copies in ReActNet-18, 0.17 s of the first step)
    scale = 1 / tf.sqrt(count)
    mean_g = ab_math.channel_sum(dy) / count
    mean_gc = ab_math.channel_sum(dy * centered) / count
    return (scale / denominator) * ((dy - mean_g) - centered * (mean_gc / (denominator * std)))


_standardized_gradient_once = ab_math.traced_once(_standardized_gradient)


@tf.custom_gradient
def _scaled_sign_clipped_ste(w_hat: tf.Tensor) -> tf.Tensor:
    """`a_o * sign(w_hat_o)` forward; gradient `dy * 1{|w_hat| <= 1}`.

    Hand-written because no Larq quantizer has this gradient: `MagnitudeAwareSign`
    multiplies the straight-through gradient by the (detached) scale `a`, the reference
    does not (its backward is that of `clip(w_hat, -1, 1)`).
    """
    axes = list(range(w_hat.shape.rank - 1))
    scale = tf.reduce_mean(tf.abs(w_hat), axis=axes, keepdims=True)

    def grad(dy):
        return tf.where(tf.abs(w_hat) <= 1.0, dy, tf.zeros_like(dy))

    return scale * lq_math.sign(w_hat), grad


@lq_utils.register_alias("sigmoid_sign")
@lq_utils.register_keras_custom_object
class SigmoidSign(_BaseQuantizer):
    r"""Binary activation quantizer of the A&B BNN (Ma et al., CVPR 2024).

    \\[
    q(x) = \begin{cases} -1 & x < 0 \\\ 1 & x \geq 0 \end{cases}, \qquad
    \frac{\partial q}{\partial x} \approx 2k\,\sigma(kx)\,(1 - \sigma(kx))
    \\]

    # Arguments
        k: steepness of the sigmoid whose derivative is the pseudo-gradient (paper: 3).

    # References
        - [A&B BNN: Add&Bit-Operation-Only Hardware-Friendly Binary Neural
          Network](https://arxiv.org/abs/2403.03739)
    """

    precision = 1

    def __init__(self, k: float = 3.0, **kwargs):
        if not k > 0:
            raise ValueError(f"SigmoidSign: k must be positive, got k={k!r}.")
        self.k = float(k)
        super().__init__(**kwargs)

    @no_autograph
    def call(self, inputs):
        return super().call(sigmoid_sign(inputs, k=self.k))

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@lq_utils.register_alias("scaled_std")
@lq_utils.register_keras_custom_object
class ScaledStd(_BaseQuantizer):
    r"""Full-precision kernel "quantizer": scaled weight standardization.

    \\[ q(W)_o = \frac{n^{-1/2}\,(W_o - \mu_o)}{\sigma_o + \epsilon} \\]

    Used by the full-precision stem and, in the paper's step 1, by the binary convs
    (binary activations, real weights).
    """

    precision = 32

    def __init__(self, eps: float = 1e-5, **kwargs):
        self.eps = float(eps)
        super().__init__(**kwargs)

    @no_autograph
    def call(self, inputs):
        return super().call(scaled_weight_standardization(inputs, self.eps))

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@lq_utils.register_alias("scaled_std_sign")
@lq_utils.register_keras_custom_object
class ScaledStdSign(_BaseQuantizer):
    r"""Binary kernel quantizer of the A&B BNN ("HardBinaryScaledStd").

    \\[
    \hat W = \mathrm{ScaledStd}(W), \quad a_o = \mathrm{mean}(|\hat W_o|), \quad
    q(W)_o = a_o\,\mathrm{sign}(\hat W_o)
    \\]

    `a_o` is held constant in backprop; the gradient reaches \\(\hat W\\) as through
    `clip(W_hat, -1, 1)` (straight-through), and reaches `W` through the standardization.
    """

    precision = 1

    def __init__(self, eps: float = 1e-5, **kwargs):
        self.eps = float(eps)
        super().__init__(**kwargs)

    @no_autograph
    def call(self, inputs):
        w_hat = scaled_weight_standardization(inputs, self.eps)
        return super().call(_scaled_sign_clipped_ste(w_hat))

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@lq_utils.register_alias("hard_binary_sign")
@lq_utils.register_keras_custom_object
class HardBinarySign(_BaseQuantizer):
    r"""Binary kernel quantizer of ReActNet's `HardBinaryConv` (the BN baselines).

    \\[ a_o = \mathrm{mean}(|W_o|), \quad q(W)_o = a_o\,\mathrm{sign}(W_o) \\]

    `a_o` is held constant in backprop; the gradient reaches `W` as through
    `clip(W, -1, 1)`. Larq's `MagnitudeAwareSign` has the same forward pass but
    multiplies the straight-through gradient by `a_o`.
    """

    precision = 1

    @no_autograph
    def call(self, inputs):
        return super().call(_scaled_sign_clipped_ste(inputs))
