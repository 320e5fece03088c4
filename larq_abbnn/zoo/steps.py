"""The paper's two training steps on one set of variables."""

from __future__ import annotations

import tensorflow as tf

from larq_abbnn import layers


def to_step(model: tf.keras.Model, step: int) -> tf.keras.Model:
    """The same network at another training step, on the same variables.

    Step 1 binarizes activations only; step 2 binarizes the binary convs' weights too.
    Every variable keeps its name, shape and value, so a step-1 model continues as
    step 2 without weight surgery, as in the paper's two-step recipe.
    """
    if step not in (1, 2):
        raise ValueError(f"step must be 1 or 2, got {step!r}.")

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, layers.BinaryScaledStdConv2D):
            config["binary_weights"] = step == 2
        return layer.__class__.from_config(config)

    new = tf.keras.models.clone_model(model, clone_function=clone)
    new.set_weights(model.get_weights())
    return new


def binary_conv_count(model: tf.keras.Model) -> int:
    """How many convs have binary inputs and binary weights (each one `LceBconv2d`)."""
    return sum(1 for layer in model.layers if layers.is_binary_conv(layer))
