"""The custom-gradient kernels under the layers and the optimizer, and `traced_once`, which
makes the work every layer of a kind repeats one call in the traced train step.

Each kernel computes what its TensorFlow expression computes, with a backward pass that is
faster on CPU or smaller to trace (measurements beside each); the forward stays ops LCE
converts.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

__all__ = [
    "add_channel_bias",
    "channel_sum",
    "conv2d",
    "exp2",
    "flipped_gradient_conv2d",
    "power_of_two_ste",
    "prelu",
    "round_ste",
    "traced_once",
]


def traced_once(fn):
    """`fn(*tensors, **options)` as one call of a `tf.function` traced once per kind: the
    tensors' ranks and dtypes (their dims unknown) and the options (hashable Python
    values), not once per call site.

    For the work every layer (or variable) of a kind repeats in the train step. Tracing
    costs about a millisecond of Python per graph op, and a traced step holds each call
    site's ops: ReActNet-18's 20 weight standardizations' gradients were 815 of its 4,415
    ops. Called, they are one op each. The calls are not inlined (`_noinline`): each runs
    the function TensorFlow instantiated once, where inlining copied every body into the
    step before its first run (the optimizer's updates, `training.optimizer`: first call
    4.7-5.4 s inlined, 2.1-2.6 s not). The ops are `fn`'s, but with the dims unknown
    grappler folds fewer constants, so a result may differ from the inline ops' in the last
    bit. The outputs' dims are unknown: callers that know them set them.
    """

    @functools.cache
    def function(kinds, options):
        def body(*tensors):
            return fn(*tensors, **dict(options))

        body.__name__ = fn.__name__  # the graph's function names (tests count its calls)
        # called as its concrete function: `tf.function`'s call binds and matches the
        # arguments against its signature each time, 0.78 against 0.55 ms a call in a graph
        return tf.function(
            body,
            input_signature=[tf.TensorSpec([None] * rank, dtype) for rank, dtype in kinds],
            autograph=False,
            experimental_attributes={"_noinline": True},
        ).get_concrete_function()

    @functools.wraps(fn)
    def call(*tensors, **options):
        tensors = [tf.convert_to_tensor(t) for t in tensors]
        kinds = tuple((t.shape.rank, t.dtype) for t in tensors)
        return function(kinds, tuple(sorted(options.items())))(*tensors)

    return call


@tf.custom_gradient
def add_channel_bias(inputs, bias):
    """`inputs + bias` over the last axis; the bias gradient is a `channel_sum`."""
    return inputs + bias, lambda dy: (dy, _traced_channel_sum(dy))


@tf.custom_gradient
def round_ste(x):
    """`round(x)` (half to even) with a straight-through gradient."""
    return tf.round(x), lambda dy: dy


@tf.custom_gradient
def exp2(x):
    """`2**x`, with the gradient TensorFlow gives `tf.pow(2, x)` (`dy * 2**x * ln 2`, the same
    ops on x's side) in 4 graph ops instead of its 13 (its gradient to the base too)."""
    y = tf.pow(tf.constant(2.0, x.dtype), x)
    return y, lambda dy: dy * y * tf.math.log(tf.constant(2.0, x.dtype))


def power_of_two_ste(x):
    """`sign(x) * 2**round(log2|x|)`: the power of two nearest `x` in log scale (half to
    even), with a straight-through gradient on the rounding, as Q-PReLU rounds its
    exponent (so d/dx = 2**round(log2|x|) / |x|, near 1). |x| is floored at the dtype's
    smallest normal number: a zero gives a tiny power of two, not NaN."""
    tiny = np.finfo(x.dtype.as_numpy_dtype).tiny
    magnitude = tf.maximum(tf.abs(x), tf.constant(tiny, x.dtype))
    exponent = round_ste(tf.math.log(magnitude) / tf.constant(np.log(2.0), x.dtype))
    sign = tf.stop_gradient(tf.where(x < 0, -tf.ones_like(x), tf.ones_like(x)))
    return sign * exp2(exponent)


@tf.custom_gradient
def prelu(inputs, slopes):
    """`where(x > 0, x, slopes * x)` (per channel, last axis), with a faster backward."""

    def grad(dy):
        d_inputs, products = _prelu_grad_elementwise(inputs, slopes, dy)
        return d_inputs, _traced_channel_sum(products)

    return tf.where(inputs > 0, inputs, slopes * inputs), grad


# TF's own gradient of the `where` takes eight passes over the activations (two selects,
# broadcast reductions, products); XLA fuses the elementwise part into one. The
# reduction stays outside: XLA's CPU reductions over the batch and spatial axes are
# 6x slower than `channel_sum` (measured: 32 vs 3.6 ms for the whole backward of a
# 64x32x32x64 map). Only the backward is compiled: the forward stays ops LCE converts.
@tf.function(jit_compile=True)
def _prelu_grad_elementwise(inputs, slopes, dy):
    positive = inputs > 0
    return tf.where(positive, dy, slopes * dy), tf.where(positive, tf.zeros_like(dy), dy * inputs)


def channel_sum(x: tf.Tensor) -> tf.Tensor:
    """Sum over every axis but the last (channels), as one matrix-vector product.

    A per-channel parameter's gradient (bias, PReLU slope) is such a sum over batch and
    space. TF's `reduce_sum` over the leading axes of an NHWC map is 2.3x slower on CPU
    than a GEMV with a ones vector (2.26 vs 0.98 ms on 64x32x32x64, float32).
    """
    channels = x.shape[-1]
    rows = tf.reshape(x, [-1, channels if channels is not None else tf.shape(x)[-1]])
    count = rows.shape[0]  # static for kernels (the optimizer's norms): a constant ones
    ones = tf.ones([count] if count is not None else tf.shape(rows)[:1], x.dtype)
    return tf.linalg.matvec(rows, ones, transpose_a=True)


def _traced_channel_sum(x: tf.Tensor) -> tf.Tensor:
    """`channel_sum(x)` as one op of the traced graph (`traced_once`): the per-channel
    parameters' gradients, 64 sums of 12 ops in ReActNet-18's train step."""
    total = _channel_sum_once(x)
    total.set_shape(x.shape[-1:])
    return total


_channel_sum_once = traced_once(channel_sum)


def conv2d(inputs: tf.Tensor, kernel: tf.Tensor, padding: str) -> tf.Tensor:
    """`tf.nn.conv2d(inputs, kernel, 1, padding)` (NHWC, stride 1, "SAME" or "VALID") with
    the faster input gradient for where TensorFlow convolves: its own on oneDNN, a forward
    convolution with the flipped kernel on Eigen (`flipped_gradient_conv2d`).

    With TensorFlow's convolutions on oneDNN (abbnn.stack), its `Conv2DBackpropInput` is as
    fast as the forward (4x4x512: 29 ms on an Intel Xeon capped at AVX2), and the flip's
    reverse and transpose of every kernel cost more than they save: interleaved in one
    process, full-width ReActNet-18, step 1 ran at 1.02x with TF's gradient.
    """
    if _onednn_convolutions():
        return tf.nn.conv2d(inputs, kernel, 1, padding)
    return flipped_gradient_conv2d(inputs, kernel, padding)


def flipped_gradient_conv2d(inputs: tf.Tensor, kernel: tf.Tensor, padding: str) -> tf.Tensor:
    """`tf.nn.conv2d(inputs, kernel, 1, padding)` whose input gradient is a forward
    convolution of `dy` with the flipped, transposed kernel: `conv2d` on Eigen.

    TF's own gradient, `Conv2DBackpropInput`, is slow on Eigen where the maps are small
    and the channels many: issue 35's per-op profile of a full-width ReActNet-18 train step
    found it 47% of the op time, 4.4x the forward convs. Measured on an AMD EPYC (AVX2), 2
    threads, batch 64, 3x3, C -> C channels: 32x32x64 125 -> 68 ms, 16x16x128 100 -> 62,
    8x8x256 175 -> 63, 4x4x512 498 -> 74 (PyTorch's own: 108, 65, 68, 74). The strided
    convs keep TF's gradient (at 32x32x64 -> 128 it is the faster). The same sums in
    another order, so equal to TF's gradient within rounding (5e-15 in float64). The
    forward and the filter gradient are TF's ops.
    """

    @tf.custom_gradient
    def convolution(x, w):
        def grad(dy):
            dx = tf.nn.conv2d(dy, _transposed_flip(w), 1, padding=_full_pads(w, padding))
            dw = tf.compat.v1.nn.conv2d_backprop_filter(x, tf.shape(w), dy, [1, 1, 1, 1], padding)
            return dx, dw

        return tf.nn.conv2d(x, w, 1, padding), grad

    return convolution(inputs, kernel)


@functools.cache
def _onednn_convolutions() -> bool:
    """Whether TensorFlow runs its float32 convolutions on oneDNN (read once, at its import;
    abbnn.stack switches them on where the wheels carry them)."""
    from tensorflow.python.util import _pywrap_util_port  # no public API says it

    return bool(_pywrap_util_port.IsMklEnabled())


def _transposed_flip(kernel: tf.Tensor) -> tf.Tensor:
    """HWIO `kernel` rotated 180 degrees with its input and output channels swapped."""
    return tf.transpose(tf.reverse(kernel, axis=[0, 1]), [0, 1, 3, 2])


def _full_pads(kernel: tf.Tensor, padding: str) -> list[list[int]]:
    """The pads that make the forward conv of `dy` the stride-1 conv's input gradient:
    `k - 1` each side for "VALID"; for "SAME" (TF pads `(k - 1) // 2` before, the rest
    after) the mirror image, the larger half before."""
    pads = [[0, 0]]
    for k in kernel.shape[:2]:
        pads.append([k - 1, k - 1] if padding == "VALID" else [k - 1 - (k - 1) // 2, (k - 1) // 2])
    return [*pads, [0, 0]]
