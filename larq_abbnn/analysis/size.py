"""How small a converted file can be: the floor a Keras model's weights set."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_abbnn import layers


def size_floor(model: tf.keras.Model) -> int:
    """The smallest file `model` fits in: 1 bit per binary weight, 4 bytes per other value.

    Binary weights are those of convs with binary inputs and binary kernels (they become
    `LceBconv2d`, whose bitpacked filters hold 32 input channels per 32-bit word); each
    such conv also needs two float constants per output channel (output multiplier and
    bias). Every other weight is a float32. Q-PReLU exponents count once (as slopes).
    The fold merges biases into those per-channel constants, so a converted file can
    undercut this floor by a little.
    """
    total = 0
    for layer in model.layers:
        weights = layer.get_weights()
        if layers.is_binary_conv(layer):
            kh, kw, channels_in, channels_out = layer.kernel.shape
            words = -(-int(channels_in) // 32)
            total += 4 * words * int(kh) * int(kw) * int(channels_out)
            total += 2 * 4 * int(channels_out)
        else:
            total += 4 * sum(int(np.prod(w.shape)) for w in weights)
    return total
