"""The paper's optimizer: Adam with coupled L2 weight decay and adaptive gradient clipping.

Keras's `Adam(weight_decay=...)` decays decoupled (AdamW); the reference uses PyTorch's
`Adam(weight_decay=...)`, which adds `wd * p` to the gradient before the moments, and
clips gradients unit-wise first (AGC, Brock et al., 2021, "High-Performance Large-Scale
Image Recognition Without Normalization"). Neither exists in Keras, so both are done here,
in `apply_gradients` after the cross-replica sum, which keeps them right under
`tf.distribute` and inside `model.fit`.
"""

from __future__ import annotations

from typing import Sequence

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


def unitwise_norm(x: tf.Tensor, axes: Sequence[int] | None) -> tf.Tensor:
    """L2 norm per unit, broadcastable to `x` (`axes=None`: the whole tensor)."""
    if axes is not None and len(axes) == 0:
        return tf.abs(x)
    return tf.sqrt(tf.reduce_sum(tf.square(x), axis=axes, keepdims=axes is not None))


def adaptive_clip(
    gradient: tf.Tensor,
    parameter: tf.Tensor,
    clip_factor: float,
    axes: Sequence[int] | None,
    eps: float = 1e-3,
) -> tf.Tensor:
    """AGC: where |g| > max(|p|, eps)*c per unit, g <- g * max(|p|, eps)*c / max(|g|, 1e-6)."""
    max_norm = tf.maximum(unitwise_norm(parameter, axes), eps) * clip_factor
    grad_norm = unitwise_norm(gradient, axes)
    clipped = gradient * (max_norm / tf.maximum(grad_norm, 1e-6))
    return tf.where(grad_norm < max_norm, gradient, clipped)


@tf.keras.utils.register_keras_serializable(package="larq_abbnn")
class AGCAdam(tf.keras.optimizers.Adam):
    """Adam with the reference's coupled L2 decay and adaptive gradient clipping.

    Per variable, in this order (as the reference: AGC on the raw gradient, then
    PyTorch Adam adds the decay): `g = agc(g)` if the group clips and `clip_factor` is set;
    `g = g + l2 * p` if the group decays; then Adam. `groups` comes from
    `parameter_groups(model)`; variables missing from it are left alone.

    # Arguments
        learning_rate: float or a `LearningRateSchedule` (see `linear_decay`).
        l2: L2 coefficient added to the gradient (step 1: 5e-6; step 2: 0).
        clip_factor: AGC's c (CIFAR 0.001, ImageNet 0.02), None for no clipping.
        clip_eps: AGC's floor on the parameter norm, 1e-3.
        groups: `{variable name: {"decay", "clip", "axes"}}`.
    """

    def __init__(
        self,
        learning_rate=1e-3,
        *,
        l2: float = 0.0,
        clip_factor: float | None = None,
        clip_eps: float = 1e-3,
        groups: dict[str, dict] | None = None,
        name: str = "AGCAdam",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.l2 = float(l2)
        self.clip_factor = None if clip_factor is None else float(clip_factor)
        self.clip_eps = float(clip_eps)
        self.groups = dict(groups or {})

    def transform(self, gradient: tf.Tensor, variable: tf.Variable) -> tf.Tensor:
        """The gradient Adam sees for `variable`: clipped, then L2-decayed."""
        group = self.groups.get(variable.name)
        if gradient is None or group is None:
            return gradient
        parameter = tf.convert_to_tensor(variable)
        if self.clip_factor is not None and group["clip"]:
            gradient = adaptive_clip(
                gradient, parameter, self.clip_factor, group["axes"], self.clip_eps
            )
        if self.l2 and group["decay"]:
            gradient = gradient + tf.cast(self.l2, gradient.dtype) * parameter
        return gradient

    def apply_gradients(
        self, grads_and_vars, name=None, skip_gradients_aggregation=False, **kwargs
    ):
        grads_and_vars = list(grads_and_vars)
        aggregate = kwargs.pop("experimental_aggregate_gradients", True)
        if not skip_gradients_aggregation and aggregate:
            grads_and_vars = self.aggregate_gradients(grads_and_vars)
        grads_and_vars = [(self.transform(g, v), v) for g, v in grads_and_vars]
        return super().apply_gradients(grads_and_vars, name=name, skip_gradients_aggregation=True)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            l2=self.l2, clip_factor=self.clip_factor, clip_eps=self.clip_eps, groups=self.groups
        )
        return config


def linear_decay(
    learning_rate: float, epochs: int, steps_per_epoch: int
) -> tf.keras.optimizers.schedules.LearningRateSchedule | float:
    """The reference's per-epoch linear decay, `lr_e = lr * (1 - e / E)`, as a schedule.

    A schedule of the optimizer's iteration count (not a callback), so a run restored by
    `BackupAndRestore` continues at the right rate.
    """
    if epochs < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"epochs and steps_per_epoch must be positive, got {epochs} and {steps_per_epoch}"
        )
    if epochs == 1:
        return float(learning_rate)
    # PiecewiseConstantDecay includes each boundary in the earlier piece; the update
    # at iteration e*steps_per_epoch is the first of epoch e.
    boundaries = [e * steps_per_epoch - 1 for e in range(1, epochs)]
    values = [learning_rate * (1 - e / epochs) for e in range(epochs)]
    return tf.keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
