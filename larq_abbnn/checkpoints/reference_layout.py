"""How a zoo model's variables correspond to the reference PyTorch state dict.

Zoo layers are named after the reference module paths, so each Keras variable has
exactly one state-dict key. The reference stores NCHW/OIHW tensors: conv kernels
(O, I, kh, kw), gains (O, 1, 1, 1), learnable biases (1, C, 1, 1), Q-PReLU exponents
`L_alpha` (C,), PReLU slopes (C,), BatchNorm's weight, bias and running statistics (C,)
plus its `num_batches_tracked` counter (a scalar Keras does not keep: read and checked,
not assigned), and the Linear head `fc` as (out, in) plus bias.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from larq_abbnn import layers


@dataclass(frozen=True)
class Entry:
    """One reference key: the Keras variable it fills and the layout change between them."""

    key: str
    variable: tf.Variable | None  # None: a reference key with no Keras counterpart
    reference_shape: tuple
    to_keras: Callable[[np.ndarray], np.ndarray]
    to_reference: Callable[[np.ndarray], np.ndarray]


def _kernel_entry(layer):
    kh, kw, i, o = (int(d) for d in layer.kernel.shape)
    return Entry(
        f"{layer.name}.weight",
        layer.kernel,
        (o, i, kh, kw),
        lambda w: np.transpose(w, (2, 3, 1, 0)),
        lambda w: np.transpose(w, (3, 2, 0, 1)),
    )


def _plain_conv_entries(layer):
    return [_kernel_entry(layer)]


def _conv_entries(layer):
    o = int(layer.kernel.shape[-1])
    return [
        _kernel_entry(layer),
        Entry(
            f"{layer.name}.gain",
            layer.gain,
            (o, 1, 1, 1),
            lambda g: np.reshape(g, (-1,)),
            lambda g: np.reshape(g, (-1, 1, 1, 1)),
        ),
    ]


def _bias_entries(layer):
    c = int(layer.bias.shape[0])
    return [
        Entry(
            f"{layer.name}.bias",
            layer.bias,
            (1, c, 1, 1),
            lambda b: np.reshape(b, (-1,)),
            lambda b: np.reshape(b, (1, -1, 1, 1)),
        )
    ]


def _rprelu_entries(layer):
    c = int(layer.exponent.shape[0])
    return [Entry(f"{layer.name}.L_alpha", layer.exponent, (c,), np.asarray, np.asarray)]


def _prelu_entries(layer):
    c = int(layer.alpha.shape[-1])
    return [
        Entry(
            f"{layer.name}.weight",
            layer.alpha,
            (c,),
            lambda a: np.reshape(a, layer.alpha.shape),
            lambda a: np.reshape(a, (-1,)),
        )
    ]


def _batch_norm_entries(layer):
    c = int(layer.gamma.shape[0])
    return [
        Entry(f"{layer.name}.{key}", variable, (c,), np.asarray, np.asarray)
        for key, variable in (
            ("weight", layer.gamma),
            ("bias", layer.beta),
            ("running_mean", layer.moving_mean),
            ("running_var", layer.moving_variance),
        )
    ] + [
        Entry(f"{layer.name}.num_batches_tracked", None, (), np.asarray, np.asarray),
    ]


def _dense_entries(layer):
    i, o = (int(d) for d in layer.kernel.shape)
    return [
        Entry(f"{layer.name}.weight", layer.kernel, (o, i), np.transpose, np.transpose),
        Entry(f"{layer.name}.bias", layer.bias, (o,), np.asarray, np.asarray),
    ]


_ENTRIES = (
    (layers.ScaledStdConv2D, _conv_entries),
    (layers.SymmetricConv2D, _plain_conv_entries),
    (tf.keras.layers.BatchNormalization, _batch_norm_entries),
    (layers.LearnableBias, _bias_entries),
    (layers.QuantRPReLU, _rprelu_entries),
    (tf.keras.layers.PReLU, _prelu_entries),
    (tf.keras.layers.Dense, _dense_entries),
)


def reference_entries(model: tf.keras.Model) -> dict[str, Entry]:
    """Every reference state-dict key of `model`, in model order.

    Raises `ValueError` naming the layer if a layer holds variables this mapping does
    not know (it could not be filled from, or compared with, a reference checkpoint).
    """
    entries: dict[str, Entry] = {}
    for layer in model.layers:
        for cls, make in _ENTRIES:
            if isinstance(layer, cls):
                for entry in make(layer):
                    entries[entry.key] = entry
                break
        else:
            if layer.weights:
                raise ValueError(
                    f"layer '{layer.name}' ({type(layer).__name__}) has variables with no "
                    "counterpart in the reference layout."
                )
    return entries
