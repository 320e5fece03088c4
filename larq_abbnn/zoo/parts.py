"""Pieces the networks share: the input, the head, the ordinary PReLU, the pooling check."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from larq_abbnn import layers


def model_input(
    input_shape: tuple, input_tensor: tf.Tensor | None
) -> tuple[tf.Tensor, list[tf.Tensor]]:
    """The tensor the network starts from and the model's inputs, as in larq-zoo.

    Without `input_tensor`, a new `Input` in Keras's floatx; with a Keras tensor, that
    tensor (the model's inputs are the ones it comes from); with another tensor, an
    `Input` wrapping it.
    """
    if input_tensor is None:
        x = tf.keras.Input(shape=input_shape, dtype=tf.keras.backend.floatx(), name="input")
        return x, [x]
    if not tf.keras.backend.is_keras_tensor(input_tensor):
        x = tf.keras.Input(tensor=input_tensor, shape=input_shape, name="input")
        return x, [x]
    return input_tensor, tf.keras.utils.get_source_inputs(input_tensor)


def input_shape_of(
    input_shape: Sequence[int | None] | None, input_tensor: tf.Tensor | None
) -> Sequence[int | None] | None:
    """`input_shape`, or the shape of `input_tensor` (which must agree when both are given)."""
    if input_tensor is None:
        return input_shape
    shape = tuple(input_tensor.shape[1:])
    if len(shape) != 3:
        raise ValueError(
            f"input_tensor must be a batch of images (batch, height, width, channels), got "
            f"shape {tuple(input_tensor.shape)}."
        )
    if input_shape is not None and tuple(input_shape) != shape:
        raise ValueError(
            f"input_shape {tuple(input_shape)} does not match input_tensor's shape {shape}; "
            "give one of them."
        )
    return shape


def check_poolable(x: tf.Tensor, block: str) -> None:
    """A 2x2 average-pool shortcut must meet its stride-2 conv: the map must be even-sized."""
    height, width = x.shape[1:3]
    if (height is not None and height % 2) or (width is not None and width % 2):
        raise ValueError(
            f"block {block} gets a {height}x{width} feature map: its 2x2 average-pool "
            "shortcut needs even sizes to meet the stride-2 convolution. Choose an "
            "input_shape whose height and width halve evenly down to this block "
            "(multiples of 32 for the ImageNet stem)."
        )


def head(x: tf.Tensor, num_classes: int, include_top: bool, pool_name: str) -> tf.Tensor:
    """Global average pool and the full-precision Linear `fc`, initialised like PyTorch's."""
    if not include_top:
        return x
    x = tf.keras.layers.GlobalAveragePooling2D(name=pool_name)(x)
    bound = 1.0 / float(x.shape[-1]) ** 0.5
    return tf.keras.layers.Dense(
        num_classes,
        kernel_initializer=layers.torch_default_conv_initializer(),
        bias_initializer=tf.keras.initializers.RandomUniform(-bound, bound),
        name="fc",
    )(x)


def prelu(name: str) -> tf.keras.layers.PReLU:
    """Ordinary per-channel PReLU (BN-Free blocks, Bi-ResNet/XNOR stem and tail), init 0.25."""
    return tf.keras.layers.PReLU(
        alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name
    )
