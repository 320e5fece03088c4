"""Keras layers of the A&B BNN (Ma et al., CVPR 2024) and its BN-Free baseline.

Layouts are Keras's: NHWC activations, HWIO kernels, per-channel parameters of shape
`(C,)`. Every layer computes in its inputs' float type, so after
`tf.keras.backend.set_floatx("float64")` a model built from them runs in float64.

References:
    - [A&B BNN: Add&Bit-Operation-Only Hardware-Friendly Binary Neural
      Network](https://arxiv.org/abs/2403.03739)
    - [BNN - BN = ?: Training Binary Neural Networks without Batch
      Normalization](https://arxiv.org/abs/2104.08215)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from larq import utils as lq_utils
from larq.layers import QuantConv2D

from larq_abbnn import math as ab_math  # `larq.math` is Larq's
from larq_abbnn import quantizers
from larq_abbnn.layers_base import (
    SymmetricConv2D,
    channels_of,
    no_autograph,
    positive_float,
    torch_default_conv_initializer,
)

__all__ = [
    "MaskLayer",
    "Scale",
    "LearnableBias",
    "QuantRPReLU",
    "set_prelu_exponent",
    "ScaledStdConv2D",
    "BinaryScaledStdConv2D",
    "SymmetricMaxPooling2D",
    "SymmetricConv2D",
    "BinaryConv2D",
    "BatchNorm",
    "PixelNormalization",
    "SpatialBias",
    "is_binary_conv",
    "has_binary_input",
    "has_binary_weights",
    "batch_norm_affine",
    "torch_default_conv_initializer",
]


@lq_utils.register_keras_custom_object
class MaskLayer(tf.keras.layers.Layer):
    r"""The A&B BNN mask layer: `y = beta * x`, placed right before a sign.

    Since \\(\mathrm{sign}(\beta x) = \mathrm{sign}(x)\\) for \\(\beta > 0\\), the mask
    changes nothing in the forward pass of the following sign; it scales the sign's
    pseudo-gradient by beta, which is what the NF-Net style beta of the reference does
    during training. At inference it is removed (`larq_abbnn.converters.fold`), so the NF-Net
    beta costs no multiplication: the preceding `LearnableBias(divisor=beta)` already
    holds the bias as `b / beta`.

    # Arguments
        beta: the block's `1 / sqrt(expected_var)`; must be positive.
    """

    def __init__(self, beta: float, **kwargs):
        self.beta = positive_float("MaskLayer", "beta", beta)
        super().__init__(**kwargs)

    @no_autograph
    def call(self, inputs):
        return inputs * self.beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@lq_utils.register_keras_custom_object
class SpatialBias(tf.keras.layers.Layer):
    """A constant bias per position and channel, `y = x + B` with `B` of shape (H, W, C).

    Inference only: the fold uses it to turn a one-padded binary conv back into the
    zero-padded one it replaces. It lives with the other layers, so that a saved folded
    model loads wherever `larq_abbnn` is imported, as Larq's layers load where `larq` is.
    """

    def __init__(self, shape, **kwargs):
        self.bias_shape = tuple(int(d) for d in shape)
        super().__init__(**kwargs)

    def build(self, input_shape):
        if tuple(tf.TensorShape(input_shape)[1:]) != self.bias_shape:
            raise ValueError(
                f"SpatialBias '{self.name}': input shape {input_shape} does not end in "
                f"{self.bias_shape}"
            )
        self.bias = self.add_weight(
            name="bias", shape=self.bias_shape, initializer="zeros", trainable=False
        )
        super().build(input_shape)

    @no_autograph
    def call(self, inputs):
        return inputs + self.bias

    def get_config(self):
        return {**super().get_config(), "shape": self.bias_shape}


@lq_utils.register_keras_custom_object
class PixelNormalization(tf.keras.layers.Layer):
    r"""Raw pixels to the normalized images the networks take, inside the graph:

    $$y_c = \frac{x_c / 255 - \mu_c}{\sigma_c} = x_c \cdot \frac{1}{255\,\sigma_c} -
    \frac{\mu_c}{\sigma_c}$$

    per channel `c`, on pixels `x` in [0, 255] of any dtype (uint8 from a camera), cast to
    the layer's float type first. `larq_abbnn.data.preprocess_input` is the same map
    outside the graph. The fold puts it in front of a converted model on request
    (`fold(model, input_pixels="uint8")`), so that a board feeds its camera's bytes; it is
    preprocessing, outside the paper's multiplication count (the audit lists it as
    excluded).
    """

    def __init__(self, mean, std, **kwargs):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(positive_float("PixelNormalization", "std", s) for s in std)
        if len(self.mean) != len(self.std):
            raise ValueError(f"PixelNormalization: {len(self.mean)} means for {len(self.std)} stds")
        kwargs.setdefault("autocast", False)  # takes uint8 and casts itself
        super().__init__(**kwargs)

    @property
    def scale(self) -> np.ndarray:
        return 1.0 / (255.0 * np.asarray(self.std, np.float64))

    @property
    def offset(self) -> np.ndarray:
        return -np.asarray(self.mean, np.float64) / np.asarray(self.std, np.float64)

    def build(self, input_shape):
        channels = tf.TensorShape(input_shape)[-1]
        if channels != len(self.mean):
            raise ValueError(
                f"PixelNormalization '{self.name}': {len(self.mean)} channel means for an "
                f"input of {channels} channels ({input_shape})"
            )
        super().build(input_shape)

    @no_autograph
    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        return x * tf.constant(self.scale, x.dtype) + tf.constant(self.offset, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


@lq_utils.register_keras_custom_object
class Scale(tf.keras.layers.Layer):
    r"""Multiplication by a constant, `y = scale * x`.

    The residual-branch alpha of NF-Nets (2**-2 in A&B models: a shift at inference) and
    the BN-Free baseline's real-valued beta on a block's input.
    """

    def __init__(self, scale: float, **kwargs):
        self.scale = positive_float("Scale", "scale", scale)
        super().__init__(**kwargs)

    @property
    def is_power_of_two(self) -> bool:
        mantissa, _ = np.frexp(self.scale)
        return mantissa == 0.5

    @no_autograph
    def call(self, inputs):
        return inputs * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@lq_utils.register_keras_custom_object
class LearnableBias(tf.keras.layers.Layer):
    r"""Per-channel learnable shift (ReActNet's "RSign/RPReLU move"), initialised at 0.

    \\[ y = x + b / d \\]

    `divisor` d is 1 except for the first bias of an A&B binary path, which the
    reference applies as `x + b / beta` ahead of a `MaskLayer(beta)`, so that the sign
    sees `beta * x + b`.
    """

    def __init__(self, divisor: float = 1.0, bias_initializer="zeros", **kwargs):
        self.divisor = positive_float("LearnableBias", "divisor", divisor)
        self.bias_initializer = tf.keras.initializers.get(bias_initializer)
        super().__init__(**kwargs)

    def build(self, input_shape):
        channels = channels_of(self, input_shape)
        self.bias = self.add_weight(
            name="bias", shape=(channels,), initializer=self.bias_initializer, trainable=True
        )
        super().build(input_shape)

    @no_autograph
    def call(self, inputs):
        if self.divisor == 1.0:
            return ab_math.add_channel_bias(inputs, tf.cast(self.bias, inputs.dtype))
        return ab_math.add_channel_bias(inputs, self.bias / self.divisor)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "divisor": self.divisor,
            "bias_initializer": tf.keras.initializers.serialize(self.bias_initializer),
        }


@lq_utils.register_keras_custom_object
class QuantRPReLU(tf.keras.layers.Layer):
    r"""Quantized PReLU of the A&B BNN: per-channel slopes restricted to powers of two.

    \\[
    y = \begin{cases} x & x > 0 \\\ 2^{\mathrm{round}(L_c)}\,x & x \leq 0 \end{cases}
    \\]

    `round` (half to even, as `torch.round`) has a straight-through gradient, so `L`
    trains as a real number while the forward slope is always an exact power of two: a
    shift at inference.

    # Arguments
        exponent_initializer: initial L; the paper uses -3 (slope 1/8).
    """

    def __init__(self, exponent_initializer=-3.0, **kwargs):
        if isinstance(exponent_initializer, (int, float)):
            exponent_initializer = tf.keras.initializers.Constant(float(exponent_initializer))
        self.exponent_initializer = tf.keras.initializers.get(exponent_initializer)
        super().__init__(**kwargs)

    def build(self, input_shape):
        channels = channels_of(self, input_shape)
        self.exponent = self.add_weight(
            name="exponent",
            shape=(channels,),
            initializer=self.exponent_initializer,
            trainable=True,
        )
        super().build(input_shape)

    @property
    def exponents(self) -> np.ndarray:
        """The integer slope exponents `round(L)` the layer currently applies."""
        return np.round(tf.keras.backend.get_value(self.exponent)).astype(np.int64)

    def slopes(self, dtype=None) -> tf.Tensor:
        exponent = ab_math.round_ste(self.exponent)
        if dtype is not None:
            exponent = tf.cast(exponent, dtype)
        return ab_math.exp2(exponent)

    @no_autograph
    def call(self, inputs):
        return ab_math.prelu(inputs, self.slopes(inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "exponent_initializer": tf.keras.initializers.serialize(self.exponent_initializer),
        }


def set_prelu_exponent(model: tf.keras.Model, exponent: int) -> None:
    """Start every Q-PReLU of `model` at slope 2^`exponent` (the paper's L, default -3).
    Raises `ValueError` if the model has none."""
    found = [layer for layer in model.layers if isinstance(layer, QuantRPReLU)]
    if not found:
        raise ValueError(f"{model.name} has no Q-PReLU, so no slope exponent to set")
    for layer in found:
        layer.exponent.assign(
            tf.fill(layer.exponent.shape, tf.cast(exponent, layer.exponent.dtype))
        )


@lq_utils.register_keras_custom_object
class ScaledStdConv2D(SymmetricConv2D):
    r"""Full-precision conv with scaled weight standardization and a per-channel gain.

    \\[ y = \mathrm{conv}(x, \hat W) \cdot g \; (+\, b), \quad \hat W = \mathrm{ScaledStd}(W) \\]

    A `SymmetricConv2D` (Larq's `QuantConv2D`, PyTorch's padding) whose kernel quantizer
    is `ScaledStd`; gain initialised at 1, kernel initialised like PyTorch's default conv.
    The paper's convs have no bias; `use_bias=True` is for folded inference models
    (`larq_abbnn.converters.fold`), where biases merged onto a binary conv's output become
    LCE's fused per-channel bias.
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=(1, 1),
        padding: str = "symmetric",
        pad_values: float = 0.0,
        input_quantizer=None,
        kernel_quantizer=None,
        kernel_initializer=None,
        gain_initializer="ones",
        eps: float = 1e-5,
        use_bias: bool = False,
        **kwargs,
    ):
        self.eps = float(eps)
        self.gain_initializer = tf.keras.initializers.get(gain_initializer)
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            pad_values=pad_values,
            input_quantizer=input_quantizer,
            kernel_quantizer=quantizers.ScaledStd(eps)
            if kernel_quantizer is None
            else kernel_quantizer,
            kernel_initializer=kernel_initializer,
            use_bias=use_bias,
            **kwargs,
        )

    def build(self, input_shape):
        super().build(input_shape)
        self.gain = self.add_weight(
            name="gain",
            shape=(self.filters,),
            initializer=self.gain_initializer,
            trainable=True,
        )

    def convolution_op(self, inputs, kernel):
        gain = tf.cast(self.gain, inputs.dtype)
        if isinstance(self.kernel_quantizer, (quantizers.ScaledStd, quantizers.ScaledStdSign)):
            # Training layers: the gain scales the kernel, as the reference's `gain *
            # weight`; a kernel-sized multiply instead of an activation-sized one, and
            # backprop reduces over the kernel, not over batch and space. Each output
            # channel stays +-c for binary kernels, so LCE still sees a binary conv.
            return super().convolution_op(inputs, tf.convert_to_tensor(kernel) * gain)
        # Folded inference layers (+-1 kernels): the gain is LCE's output multiplier.
        return super().convolution_op(inputs, kernel) * gain

    def get_config(self):
        return {
            **super().get_config(),
            "gain_initializer": tf.keras.initializers.serialize(self.gain_initializer),
            "eps": self.eps,
        }


#: Keys of a binary conv's config that the real conv it becomes (`ScaledStdConv2D`:
#: the fold's, the full-precision counterpart's) does not take.
BINARY_CONV_KEYS = ("binary_weights", "power_of_two_scale")


@lq_utils.register_keras_custom_object
class BinaryScaledStdConv2D(ScaledStdConv2D):
    r"""The A&B BNN binary conv ("HardBinaryScaledStd"), built on Larq's `QuantConv2D`.

    \\[
    y = \mathrm{conv}(q_a(x),\; a \odot \mathrm{sign}(\hat W)) \cdot g, \qquad
    a_o = \mathrm{mean}(|\hat W_o|)\ \text{(detached)}
    \\]

    with the straight-through clip of `ScaledStdSign` on the kernel. The input quantizer
    (default `"sigmoid_sign"`) binarizes the activations; pass `input_quantizer=None` for
    a binary-weight conv on a real input (the ResNet shortcut).

    `binary_weights=False` is the paper's step 1: the same variables (`kernel`, `gain`)
    with the full-precision `ScaledStd` kernel, so step 1 -> step 2 needs no weight
    surgery (`larq_abbnn.zoo.to_step(model, 2)`).

    `power_of_two_scale=True` (not the paper's; issue 33) makes the per-channel output
    scale of the binary weights a power of two, a shift on hardware:

    \\[ y = \mathrm{conv}(q_a(x),\; \mathrm{sign}(\hat W)) \cdot
    2^{\mathrm{round}(\log_2 (g \odot a))} \\]

    with a straight-through gradient on the rounding (`math.power_of_two_ste`), as Q-PReLU
    rounds its exponent. It acts where the weights are binary (step 2).
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=(1, 1),
        padding: str = "symmetric",
        binary_weights: bool = True,
        input_quantizer="sigmoid_sign",
        kernel_initializer=None,
        eps: float = 1e-5,
        power_of_two_scale: bool = False,
        **kwargs,
    ):
        self.binary_weights = bool(binary_weights)
        self.power_of_two_scale = bool(power_of_two_scale)
        kwargs.pop("kernel_quantizer", None)  # derived from binary_weights
        if kernel_initializer is None:
            # Reference: binary convs start at U[0, 0.001), step-1 convs at PyTorch's default.
            kernel_initializer = (
                tf.keras.initializers.RandomUniform(0.0, 0.001)
                if self.binary_weights
                else torch_default_conv_initializer()
            )
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            input_quantizer=input_quantizer,
            kernel_quantizer=(
                quantizers.ScaledStdSign(eps) if self.binary_weights else quantizers.ScaledStd(eps)
            ),
            kernel_initializer=kernel_initializer,
            eps=eps,
            **kwargs,
        )

    def output_scale(self, magnitude, dtype):
        """The per-channel scale of the binary weights: `gain * a` (`magnitude` is a), or
        its power of two with `power_of_two_scale`."""
        scale = tf.cast(self.gain, dtype) * magnitude
        return ab_math.power_of_two_ste(scale) if self.power_of_two_scale else scale

    def convolution_op(self, inputs, kernel):
        if not (self.power_of_two_scale and self.binary_weights):
            return super().convolution_op(inputs, kernel)
        # `kernel` is a * sign(W_hat) with the straight-through gradient to W; divided by
        # a (held constant, as in the quantizer) and times the power of two, it is
        # sign(W_hat) * 2**round(log2(g a)), each channel still +-c for LCE.
        kernel = tf.convert_to_tensor(kernel)
        magnitude = tf.stop_gradient(tf.reduce_mean(tf.abs(kernel), axis=[0, 1, 2]))
        scale = self.output_scale(magnitude, kernel.dtype)
        return SymmetricConv2D.convolution_op(self, inputs, kernel * (scale / magnitude))

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_quantizer", None)
        return {
            **config,
            "binary_weights": self.binary_weights,
            "power_of_two_scale": self.power_of_two_scale,
        }


@lq_utils.register_keras_custom_object
class BinaryConv2D(SymmetricConv2D):
    r"""The BN baselines' binary conv (ReActNet's `HardBinaryConv`, as in BNN_NoBN's `_bn`
    models), on Larq's `QuantConv2D`.

    \\[
    y = \mathrm{conv}(q_a(x),\; a \odot \mathrm{sign}(W)), \qquad
    a_o = \mathrm{mean}(|W_o|)\ \text{(detached)}
    \\]

    with the straight-through gradient of `clip(W, -1, 1)` (`quantizers.HardBinarySign`):
    no weight standardization and no gain, a BatchNorm follows. The input quantizer
    (default `"approx_sign"`, ReActNet's `BinaryActivation`) binarizes the activations;
    `input_quantizer=None` for a binary-weight conv on a real input (the shortcut).

    `binary_weights=False` is step 1: the same `kernel`, real (PyTorch's `nn.Conv2d`),
    initialised like it; step 2 initialises at U[0, 0.001) as the reference does.
    """

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=(1, 1),
        padding: str = "symmetric",
        binary_weights: bool = True,
        input_quantizer="approx_sign",
        kernel_initializer=None,
        **kwargs,
    ):
        self.binary_weights = bool(binary_weights)
        kwargs.pop("kernel_quantizer", None)  # derived from binary_weights
        if kernel_initializer is None and self.binary_weights:
            kernel_initializer = tf.keras.initializers.RandomUniform(0.0, 0.001)
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            input_quantizer=input_quantizer,
            kernel_quantizer=quantizers.HardBinarySign() if self.binary_weights else None,
            kernel_initializer=kernel_initializer,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_quantizer", None)
        return {**config, "binary_weights": self.binary_weights}


@lq_utils.register_keras_custom_object
class BatchNorm(tf.keras.layers.BatchNormalization):
    """PyTorch's `nn.BatchNorm2d` in Keras, for the BN baselines.

    Its defaults (epsilon 1e-5, momentum 0.1, i.e. Keras's 0.9), and its running variance
    updated with the *unbiased* batch variance in every float type: Keras's fused kernel
    (float32) does so already, its float64 path uses the biased one (measured: 1.0183 vs
    PyTorch's 1.0195 after one batch of 4x5x5), and the momentum in the variables' type
    (Keras rounds it to float32). Normalization uses the biased variance, as both
    frameworks do.
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
        super().__init__(momentum=momentum, epsilon=epsilon, **kwargs)

    @no_autograph
    def call(self, inputs, training=None, mask=None):
        # elements averaged per channel, for Bessel's correction of the running variance
        self._reduced = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), inputs.dtype)
        return super().call(inputs, training=training, mask=mask)

    def _assign_moving_average(self, variable, value, momentum, inputs_size):
        # Keras's own update rounds `1 - momentum` to float32 (1.5e-9 off in float64).
        value = tf.cast(value, variable.dtype)
        if variable is self.moving_variance and not self.fused:
            value = value * self._reduced / tf.maximum(self._reduced - 1, 1)
        delta = (variable - value) * tf.constant(1.0 - momentum, variable.dtype)
        if inputs_size is not None:  # Keras skips the update on an empty batch
            delta = tf.where(inputs_size > 0, delta, tf.zeros_like(delta))
        return variable.assign_sub(delta)


@lq_utils.register_keras_custom_object
class SymmetricMaxPooling2D(tf.keras.layers.MaxPooling2D):
    """Max pooling with PyTorch's symmetric padding, where padding never wins the max.

    Pads `padding` rows/columns on every side with the float type's lowest value, then
    pools "valid" (TF's "same" pads asymmetrically at stride 2 on even sizes).
    """

    def __init__(self, pool_size=3, strides=2, padding: int = 1, **kwargs):
        kwargs.pop("data_format", None)
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(
                f"SymmetricMaxPooling2D: padding must be a non-negative int, got {padding!r}."
            )
        self.symmetric_padding = padding
        super().__init__(pool_size=pool_size, strides=strides, padding="valid", **kwargs)

    @no_autograph
    def call(self, inputs):
        p = self.symmetric_padding
        if p:
            lowest = inputs.dtype.min
            inputs = tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=lowest)
        return super().call(inputs)

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape).as_list()
        p = self.symmetric_padding
        padded = (
            [input_shape[0]]
            + [None if d is None else d + 2 * p for d in input_shape[1:3]]
            + [input_shape[3]]
        )
        return super().compute_output_shape(padded)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.symmetric_padding
        config.pop("data_format", None)
        return config


def has_binary_input(layer: tf.keras.layers.Layer) -> bool:
    """Whether `layer` binarizes its input: a Larq layer whose input quantizer has
    precision 1 (the sign before a binary conv, in step 1 as in step 2)."""
    return getattr(getattr(layer, "input_quantizer", None), "precision", None) == 1


def has_binary_weights(layer: tf.keras.layers.Layer) -> bool:
    """Whether `layer` binarizes its kernel: its kernel quantizer has precision 1."""
    return getattr(getattr(layer, "kernel_quantizer", None), "precision", None) == 1


def is_binary_conv(layer: tf.keras.layers.Layer) -> bool:
    """Whether `layer` is a convolution of binary inputs with binary weights: what LCE
    converts to `LceBconv2d`. Any Larq `QuantConv2D` whose input and kernel quantizers
    have precision 1 (this package's step-2 convs, larq-zoo's binary convs); a step-1
    conv or a binary-weight conv on a real input is not one."""
    return isinstance(layer, QuantConv2D) and has_binary_input(layer) and has_binary_weights(layer)


def batch_norm_affine(bn: tf.keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNorm at inference as the per-channel affine map `y = scale * x + shift`,
    in float64: `scale = gamma / sqrt(var + eps)`, `shift = beta - mean * scale` (a
    missing gamma or beta, `scale=False` or `center=False`, is 1 or 0). What the fold joins
    to a conv and the QONNX export writes as a `Mul` and an `Add`."""

    def value(variable, default):
        if variable is None:
            return default
        return np.asarray(tf.keras.backend.get_value(variable), np.float64)

    variance = value(bn.moving_variance, None)
    scale = value(bn.gamma, 1.0) / np.sqrt(variance + bn.epsilon)
    shift = value(bn.beta, 0.0) - value(bn.moving_mean, None) * scale
    return scale, shift
