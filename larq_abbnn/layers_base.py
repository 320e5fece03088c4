"""The base of this package's convs: Larq's `QuantConv2D` with PyTorch's padding.

Also the helpers every layer module shares: argument checks with errors naming the
layer, PyTorch's default initializer, and `no_autograph`. Split from `layers.py` as Larq splits
`layers_base.py` from `layers.py`: the padding machinery is one concept, the paper's
layers another.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import tensorflow as tf
from larq import utils as lq_utils
from larq.layers import QuantConv2D

from larq_abbnn import math as ab_math

__all__ = [
    "SymmetricConv2D",
    "dilated_size",
    "no_autograph",
    "one_padding_correction",
    "same_padding",
    "symmetric_output_size",
    "symmetric_padding",
    "symmetric_padding_mode",
    "torch_default_conv_initializer",
]


def dilated_size(kernel_size: int, dilation: int = 1) -> int:
    """The extent a dilated kernel covers: `dilation * (k - 1) + 1`."""
    return dilation * (kernel_size - 1) + 1


def symmetric_padding(kernel_size: int, dilation: int = 1) -> int:
    """Zeros PyTorch pads on each side for `padding=k//2`: `dilation * (k - 1) // 2`."""
    return dilation * (kernel_size - 1) // 2


def same_padding(size: int, kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """What TF's "same" pads on one axis: (before, after), the odd one after."""
    effective = dilated_size(kernel_size, dilation)
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def one_padding_correction(kernel, input_size, pads, strides=(1, 1), dilations=(1, 1)):
    """What padding a conv's input with +1 instead of 0 adds to its output, in float64:
    (Ho, Wo, O) for an HWIO `kernel` over an (H, W) input padded (top, left, bottom,
    right) = `pads`. The kernel summed over input channels, slid over a map that is 1 on
    the padded border and 0 inside: for a +-1 kernel, integers, so exact. The fold
    subtracts it (scaled) where LCE pads binary convs with +1; the QONNX forms whose +-1
    code has no zero subtract it after their +1 padding."""
    kernel = np.asarray(kernel, np.float64)
    (h, w), (top, left, bottom, right) = input_size, pads
    border = np.ones((h + top + bottom, w + left + right))
    border[top : top + h, left : left + w] = 0.0
    summed = kernel.sum(axis=2)  # (kh, kw, O)
    (kh, kw), (sh, sw), (dh, dw) = kernel.shape[:2], strides, dilations
    ho = (border.shape[0] - dilated_size(kh, dh)) // sh + 1
    wo = (border.shape[1] - dilated_size(kw, dw)) // sw + 1
    out = np.zeros((ho, wo, kernel.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            window = border[i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                            j * dw : j * dw + (wo - 1) * sw + 1 : sw]  # fmt: skip
            out += window[:, :, None] * summed[i, j]
    return out


def symmetric_padding_mode(sizes, kernel_size, strides, dilation_rate) -> str:
    """How a conv computes PyTorch's symmetric padding on inputs of `sizes` (None: unknown):
    `"same"` where TF's "same" pads the same, `"flip"` where it pads the mirror image
    (bottom/right instead of top/left: stride 2 on even sizes), else `"explicit"`."""
    same = flipped = True
    for size, k, s, d in zip(sizes, kernel_size, strides, dilation_rate):
        effective = dilated_size(k, d)
        p = symmetric_padding(k, d)
        if size is None:
            same = same and s == 1 and effective % 2 == 1
            flipped = False
            continue
        before, after = same_padding(size, k, s, d)
        out_sym = symmetric_output_size(size, k, s, d)
        out_same = -(-size // s)
        same = same and out_sym == out_same and before == p
        flipped = flipped and out_sym == out_same and after == p
    return "same" if same else "flip" if flipped else "explicit"


def symmetric_output_size(size: int, kernel_size: int, stride: int, dilation: int = 1) -> int:
    """Output length of a conv over `size` inputs padded `symmetric_padding` on each side."""
    padded = size + 2 * symmetric_padding(kernel_size, dilation)
    return (padded - dilated_size(kernel_size, dilation)) // stride + 1


@contextlib.contextmanager
def _silenced(logger: logging.Logger):
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


def positive_float(layer: str, name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r}.") from None
    if not (value > 0 and np.isfinite(value)):
        raise ValueError(f"{layer}: {name} must be a positive finite number, got {value!r}.")
    return value


def channels_of(layer: tf.keras.layers.Layer, input_shape, min_rank: int = 2) -> int:
    shape = tf.TensorShape(input_shape)
    if shape.rank is None or shape.rank < min_rank:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': expected an input of rank >= "
            f"{min_rank} with channels last, got shape {shape}."
        )
    if shape[-1] is None:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the channel dimension of the input "
            f"must be known, got shape {shape}."
        )
    return int(shape[-1])


def torch_default_conv_initializer() -> tf.keras.initializers.Initializer:
    """PyTorch's default conv/linear init (Kaiming-uniform, a=sqrt(5)): U(+-1/sqrt(fan_in))."""
    return tf.keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def no_autograph(call):
    """A layer's `call` that Keras runs as written, without autograph.

    Keras converts the `call` of every layer class defined outside Keras with autograph,
    each time it builds a model from such layers and in each function it traces (the
    train step, LCE's and the SavedModel's traces), so that a `call` may branch on a
    tensor. This package's layers and quantizers branch on Python values only, and the
    layers they call run unconverted too. Measured (ReActNet-18, width 0.125, 32 px, AMD
    EPYC, TF 2.21): building the model 2.6-3.0 -> 1.7 s, the first `fit` step and LCE's
    conversion about 10% sooner.
    """
    # a TF decorator, so that Keras still reads `call`'s own arguments (whether it takes
    # `training`) through it
    return tf.__internal__.decorator.make_decorator(
        call, tf.autograph.experimental.do_not_convert(call)
    )


@lq_utils.register_keras_custom_object
class SymmetricConv2D(QuantConv2D):
    r"""Larq's `QuantConv2D` with PyTorch's symmetric zero padding, exact and LCE-friendly.

    `padding` is `"same"`, `"valid"` or `"symmetric"`: symmetric zero padding of
    `dilation * (k - 1) // 2` on every side (PyTorch's `padding=k//2`). Where it
    coincides with TF's "same" the layer uses it. At stride 2 on even sizes it does not
    (TF pads bottom/right, PyTorch top/left), but the PyTorch windows are the TF "same"
    windows mirrored, so the layer computes `flip(conv_same(flip(x), flip(W)))` with
    `flip` reversing height and width: exact zero padding, and still a native
    `LceBconv2d` after conversion. (Padding after the sign instead is mis-converted by
    LCE 0.16 at stride 2: measured logit error 24 on an 8x8 input; a constant border
    correction is fused into the bconv's per-channel bias and fails to load.) Any other
    case pads explicitly. `pad_values=1.0` with "same" selects LCE's one-padding.

    Used as it is for the BN baselines' full-precision first conv; the convs of the
    paper's blocks are `ScaledStdConv2D`, `BinaryScaledStdConv2D` and `BinaryConv2D`.
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
        use_bias: bool = False,
        **kwargs,
    ):
        if kwargs.pop("activation", None):
            raise ValueError(f"{type(self).__name__}: activation is not supported.")
        padding = str(padding).lower()
        if padding not in ("same", "valid", "symmetric"):
            raise ValueError(
                f"{type(self).__name__}: padding must be 'same', 'valid' or 'symmetric', "
                f"got {padding!r}."
            )
        if pad_values not in (0, 1, 0.0, 1.0):
            raise ValueError(
                f"{type(self).__name__}: pad_values must be 0.0 or 1.0, got {pad_values!r}."
            )
        self.requested_padding = padding
        # Larq warns about "starved weights" for binary kernels without a constraint; the
        # straight-through clip acts on the kernel itself (or its standardization, which
        # stays in (-1, 1)), so it never starves.
        with _silenced(logging.getLogger("larq.layers_base")):
            super().__init__(
                filters,
                kernel_size,
                strides=strides,
                padding="valid" if padding == "symmetric" else padding,
                pad_values=float(pad_values),
                use_bias=use_bias,
                input_quantizer=input_quantizer,
                kernel_quantizer=kernel_quantizer,
                kernel_initializer=kernel_initializer or torch_default_conv_initializer(),
                **kwargs,
            )
        for quantizer in (self.input_quantizer, self.kernel_quantizer):
            if isinstance(quantizer, tf.keras.layers.Layer):
                # Larq's quantizers are Keras layers and would cast their inputs to the
                # floatx at their creation: a float64 model loaded where floatx is float32
                # would quantize a float64 kernel into float32 and fail to convolve.
                quantizer._autocast = False
        self._symmetric_mode = None  # "same", "flip" or "explicit", set in build
        self._training = False  # in a training call (`call`), for `convolution_op`

    # -- padding ---------------------------------------------------------------------
    def _resolve_symmetric(self, input_shape) -> str:
        """ "same", "flip" (mirrored "same") or "explicit", per the static input size."""
        mode = symmetric_padding_mode(
            input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate
        )
        if mode == "flip" and self.pad_values != 0.0:
            mode = "explicit"  # the flip mirrors zero padding only
        if mode == "explicit" and any(size is None for size in input_shape[1:3]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': symmetric padding at stride "
                f"{self.strides} needs a static spatial input size, got {input_shape}."
            )
        return mode

    def _symmetric_pads(self):
        return tuple(
            (symmetric_padding(k, d),) * 2 for k, d in zip(self.kernel_size, self.dilation_rate)
        )

    def build(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank != 4:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': expected a 4-D NHWC input, got "
                f"shape {input_shape}."
            )
        if self.requested_padding == "symmetric":
            self._symmetric_mode = self._resolve_symmetric(input_shape)
            if self._symmetric_mode == "explicit":
                self.padding = "valid"
                self._is_native_padding = True
                (top, bottom), (left, right) = self._symmetric_pads()
                input_shape = tf.TensorShape(
                    [
                        input_shape[0],
                        input_shape[1] + top + bottom,
                        input_shape[2] + left + right,
                        input_shape[3],
                    ]
                )
            else:
                self.padding = "same"
                self._is_native_padding = self.pad_values == 0.0
        super().build(input_shape)

    @no_autograph
    def call(self, inputs, training=None):
        # Keras passes `training`: in training, the stride-1 convs take `ab_math.conv2d`'s
        # faster input gradient; inference (and so what LCE converts) keeps the plain op.
        with lq_utils.patch_object(self, "_training", training is True):
            return self._symmetric_call(inputs)

    def _symmetric_call(self, inputs):
        mode = self._symmetric_mode
        if mode == "flip":
            # Sign and standardization commute with the flip, so LCE still sees
            # sign -> conv(same) and makes one LceBconv2d of it.
            outputs = super().call(tf.reverse(inputs, axis=[1, 2]))
            return tf.reverse(outputs, axis=[1, 2])
        if mode == "explicit":
            if self.input_quantizer is not None:
                inputs = self.input_quantizer(inputs)
            inputs = tf.pad(
                inputs, [[0, 0], *self._symmetric_pads(), [0, 0]], constant_values=self.pad_values
            )
            # Keras's Conv.call checks the output shape of the already padded input, and
            # the input is already quantized.
            with (
                lq_utils.patch_object(self, "requested_padding", "valid"),
                lq_utils.patch_object(self, "input_quantizer", None),
            ):
                return super().call(inputs)
        return super().call(inputs)

    def convolution_op(self, inputs, kernel):
        kernel = tf.convert_to_tensor(kernel)
        if self._symmetric_mode == "flip":
            kernel = tf.reverse(kernel, axis=[0, 1])
        if (
            self._training
            and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1)
            and self.groups == 1
            and self.data_format == "channels_last"
            and self.padding in ("same", "valid")
        ):
            return ab_math.conv2d(inputs, kernel, self.padding.upper())
        return super().convolution_op(inputs, kernel)

    def compute_output_shape(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if self.requested_padding != "symmetric":
            return super().compute_output_shape(input_shape)
        dims = [
            None if size is None else symmetric_output_size(size, k, s, d)
            for size, k, s, d in zip(
                input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        return tf.TensorShape([input_shape[0], *dims, self.filters])

    def get_config(self):
        config = super().get_config()
        drop = ["activation"]
        if not self.use_bias:
            drop += ["use_bias", "bias_initializer", "bias_regularizer", "bias_constraint"]
        for key in drop:
            config.pop(key, None)
        return {**config, "padding": self.requested_padding}
