"""What every zoo model function does with its arguments: validate them, build the
network on its input, name the model, load `weights=`.

The model functions themselves (`resnet.py`, `reactnet_a.py`) spell out the signature, as
larq-zoo's do, so that `help()` and editors show it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from larq_abbnn.families import Family
from larq_abbnn.zoo.config import resolve_config
from larq_abbnn.zoo.parts import input_shape_of, model_input
from larq_abbnn.zoo.weights import load_weights

#: `network(x, cfg=, alpha=, num_classes=, include_top=) -> outputs`
Network = Callable[..., tf.Tensor]


def build_model(
    network: Network,
    family: Family,
    default_name: str,
    *,
    input_shape: Sequence[int | None] | None,
    input_tensor: tf.Tensor | None,
    num_classes: int,
    include_top: bool,
    stem: str | None,
    step: int,
    alpha: float | None,
    padding: str,
    width_multiplier: float,
    weights: str | os.PathLike | None,
    name: str | None,
    activation: str = "qprelu",
    power_of_two_scales: bool = False,
) -> tf.keras.Model:
    """The Keras model of `network` with the zoo's arguments (see any model function)."""
    input_shape, cfg = resolve_config(
        input_shape_of(input_shape, input_tensor),
        stem,
        step,
        padding,
        num_classes,
        include_top,
        width_multiplier,
        activation,
        power_of_two_scales,
    )
    x, inputs = model_input(input_shape, input_tensor)
    outputs = network(
        x,
        cfg=cfg,
        alpha=family.alpha if alpha is None else float(alpha),
        num_classes=num_classes,
        include_top=include_top,
    )
    model = tf.keras.Model(inputs, outputs, name=name or default_name)
    load_weights(model, weights)
    return model


def estimated_parameters(builder: Callable[..., tf.keras.Model], width_multiplier: float) -> float:
    """Parameters of `builder(width_multiplier=...)`, estimated without building it: a
    conv's weights grow with the square of the width, so from a model at width 1/4."""
    small = 0.25
    model = builder(input_shape=(32, 32, 3), width_multiplier=small)
    return model.count_params() * (width_multiplier / small) ** 2


_ARGUMENTS = """

    # Arguments
        input_shape: `(height, width, channels)`; default (224, 224, 3), or (32, 32, 3)
            with `stem="cifar"`. Taken from `input_tensor` when that is given.
        input_tensor: a Keras tensor (e.g. `tf.keras.Input(...)` or another model's
            output) to build the network on, as in larq-zoo.
        num_classes: classes of the `fc` head.
        include_top: whether to add the global average pool and `fc`.
        stem: `"imagenet"` or `"cifar"`; by default `"cifar"` for inputs up to 64 px.
        step: 1 builds the paper's step-1 network (binary activations, real weights),
            2 the binary network; both have the same variables (see `to_step`).
{alpha}        padding: `"reference"` (PyTorch's symmetric zero padding, which the paper's
            checkpoints need), `"same"` (TF's) or `"one"` (TF's, binary inputs padded
            with +1: LCE's fastest binary conv).
        width_multiplier: scales every layer's channel count (rounded); 1.0 is the
            paper's network, smaller values suit quick experiments and small devices.
{activation}        weights: a Keras weights file (.h5, .keras), or one of the paper's PyTorch
            checkpoints; None for random initialization. Nothing is downloaded.
        name: model name (default `{name}`).

    # Returns
        A `tf.keras.Model`.
"""


_ACTIVATION = (
    '        activation: `"qprelu"` (the paper\'s Q-PReLU) or `"leaky"`, the paper\'s ablation:\n'
    "            a fixed-slope leaky ReLU of 2^-3 inside every RPReLU.\n"
    "        power_of_two_scales: round each binary conv's per-channel output scale\n"
    "            (gain times mean |W|) to a power of two, with a straight-through gradient\n"
    "            (not the paper's; a shift on hardware: no multiplication left in the blocks).\n"
)


def documented(family: Family, default_name: str, activation: bool = False):
    """Append the shared argument documentation to a model function's docstring, and mark
    it with its reference name and family."""

    def decorate(function):
        alpha = family.alpha
        function.__doc__ = (function.__doc__ or "").rstrip() + _ARGUMENTS.format(
            alpha=""
            if alpha is None  # BN baselines: BatchNorm instead of alpha and beta
            else f"        alpha: residual-branch scale, default {alpha} (the paper's); betas "
            "follow it.\n",
            name=default_name,
            activation=_ACTIVATION if activation else "",
        )
        function.reference_name = default_name  # its key in `zoo.MODELS`
        function.family = family
        return function

    return decorate
