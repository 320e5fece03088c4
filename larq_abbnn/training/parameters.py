"""Which of a model's variables the reference decays and clips, and their units.

Kept apart from the optimizer: this rule reads the paper's layers (a gain, a learnable
bias), while `AGCAdam` only applies what it is given.
"""

from __future__ import annotations

import tensorflow as tf

from larq_abbnn import layers

#: Unit-wise norm over every axis (a 1-D parameter, or a reference (1, C, 1, 1) bias).
WHOLE = None


def parameter_groups(model: tf.keras.Model) -> dict[str, dict]:
    """Which variables get weight decay and clipping, and their unit-wise norm axes.

    Follows the reference (spec section 4): weight decay on every parameter PyTorch
    stores as a 4-D tensor (conv kernels, gains, learnable biases), not on Q-PReLU
    exponents, PReLU slopes or the head; clipping on everything but the final Linear.
    Units are PyTorch's first axis: a conv's output channel (Keras kernel axes 0-2 are
    reduced), one element of a gain, the whole tensor for biases and 1-D parameters.
    Variables of other layers follow the same rule read in Keras layout: a kernel's
    unit is its last axis and it is decayed; a 1-D parameter is one unit, not decayed.

    Returns `{variable name: {"decay": bool, "clip": bool, "axes": list | None}}`.
    """
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    head = dense[-1] if dense else None
    groups: dict[str, dict] = {}
    for layer in model.layers:
        for variable in layer.trainable_weights:
            if layer is head:
                group = {"decay": False, "clip": False, "axes": WHOLE}
            elif isinstance(layer, layers.ScaledStdConv2D) and variable is layer.gain:
                group = {"decay": True, "clip": True, "axes": []}
            elif isinstance(layer, layers.LearnableBias):
                group = {"decay": True, "clip": True, "axes": WHOLE}
            elif variable.shape.rank >= 2 and not isinstance(layer, tf.keras.layers.PReLU):
                group = {"decay": True, "clip": True, "axes": list(range(variable.shape.rank - 1))}
            else:
                group = {"decay": False, "clip": True, "axes": WHOLE}
            if variable.name in groups:
                raise ValueError(
                    f"variable name {variable.name!r} occurs twice in model {model.name}: "
                    "parameter groups are keyed by name, give the layers unique names"
                )
            groups[variable.name] = group
    return groups
