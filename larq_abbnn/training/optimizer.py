"""The paper's optimizer: PyTorch's Adam with coupled L2 weight decay and AGC.

The reference trains with `torch.optim.Adam(weight_decay=...)` after clipping gradients
unit-wise (AGC, Brock et al., 2021, "High-Performance Large-Scale Image Recognition
Without Normalization"). Keras has none of the three as the reference computes them:
- its `Adam(weight_decay=...)` decays decoupled (AdamW), where PyTorch adds `wd * p` to
  the gradient before the moments;
- its Adam adds `epsilon` to `sqrt(v)` *before* bias correction ("epsilon hat"), where
  PyTorch adds 1e-8 to the bias-corrected root. AGC clips the gradients of small
  parameters (fresh biases, 1e-3-scale binary kernels) to norms near 1e-6, where the
  epsilon dominates the update: Keras's update of a fresh learnable bias is ~30x smaller
  than the reference's at step 1;
- its constants (betas, a schedule's rates) are float32 tensors even for float64 variables.
So `AGCAdam.update_step` clips, decays and applies PyTorch's update, in the variable's
dtype. Keras calls it after the cross-replica sum of the gradients, which keeps all three
right under `tf.distribute` and inside `model.fit`.
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import tensorflow as tf

from larq_abbnn import math as ab_math  # `larq.math` is Larq's


def unitwise_norm(x: tf.Tensor, axes: Sequence[int] | None) -> tf.Tensor:
    """L2 norm per unit, broadcastable to `x` (`axes=None`: the whole tensor)."""
    x = tf.convert_to_tensor(x)
    if axes is not None and len(axes) == 0:
        return tf.abs(x)
    if axes is not None and list(axes) == list(range(x.shape.rank - 1)):
        # per output channel of a kernel: one GEMV, faster than reduce_sum on CPU
        shape = [1] * (x.shape.rank - 1) + [-1]
        return tf.reshape(tf.sqrt(ab_math.channel_sum(tf.square(x))), shape)
    return tf.sqrt(tf.reduce_sum(tf.square(x), axis=axes, keepdims=axes is not None))


#: AGC's floor on a unit's gradient norm, which it divides by (the reference's 1e-6)
MIN_GRAD_NORM = 1e-6


def adaptive_clip(
    gradient: tf.Tensor,
    parameter: tf.Tensor,
    clip_factor: float | tf.Tensor,
    axes: Sequence[int] | None,
    eps: float | tf.Tensor = 1e-3,
    min_grad_norm: float | tf.Tensor = MIN_GRAD_NORM,
) -> tf.Tensor:
    """AGC (the reference's adaptive_clip_grad): where |g| > max(|p|, eps)*c per unit,
    g <- g * max(|p|, eps)*c / max(|g|, 1e-6).

    The constants may be Python floats (constants of the tensors' dtype) or scalar tensors
    of that dtype (`AGCAdam` builds them once per update)."""
    max_norm = tf.maximum(unitwise_norm(parameter, axes), eps) * clip_factor
    grad_norm = unitwise_norm(gradient, axes)
    # the choice per unit, then one product: the same values as `where(grad_norm <
    # max_norm, g, g * ratio)` (g * 1 is g), with one pass over the gradient instead of two
    ratio = max_norm / tf.maximum(grad_norm, min_grad_norm)
    return gradient * tf.where(grad_norm < max_norm, tf.ones_like(ratio), ratio)


#: the scalars `AGCAdam` builds once per update and `_variable_update` takes
SCALARS = {
    "adam": dict.fromkeys("rate beta_1 beta_2 epsilon_t".split()),
    "clip": dict.fromkeys("clip_factor eps min_grad_norm".split()),
    "l2": None,
}


@tf.keras.utils.register_keras_serializable(package="larq_abbnn")
class AGCAdam(tf.keras.optimizers.Adam):
    """PyTorch's Adam with the reference's coupled L2 decay and adaptive gradient clipping.

    Per variable, in this order (as the reference: AGC on the raw gradient, then
    PyTorch's Adam adds the decay): `g = agc(g)` if the group clips and `clip_factor` is
    set; `g = g + l2 * p` if the group decays; then `torch.optim.Adam`'s update at step
    `t = iterations + 1`, everything in the variable's dtype:

        m = m + (1 - b1) * (g - m)                  v = b2 * v + (1 - b2) * g^2
        p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    with eps added to the *bias-corrected* root (Keras's Adam adds it before the
    correction). `groups` comes from `parameter_groups(model)`; variables missing from it
    are neither clipped nor decayed.

    # Arguments
        learning_rate: float or a `LearningRateSchedule` (see `linear_decay`).
        l2: L2 coefficient added to the gradient (step 1: 5e-6; step 2: 0).
        clip_factor: AGC's c (CIFAR 0.001, ImageNet 0.02), None for no clipping.
        clip_eps: AGC's floor on the parameter norm, 1e-3.
        groups: `{variable name: {"decay", "clip", "axes"}}`.
        beta_1, beta_2, epsilon: PyTorch's defaults 0.9, 0.999, 1e-8.
    """

    def __init__(
        self,
        learning_rate=1e-3,
        *,
        l2: float = 0.0,
        clip_factor: float | None = None,
        clip_eps: float = 1e-3,
        groups: dict[str, dict] | None = None,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        name: str = "AGCAdam",
        **kwargs,
    ):
        if kwargs.get("amsgrad"):
            raise ValueError("AGCAdam computes PyTorch's Adam without amsgrad; amsgrad=True")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            name=name,
            **kwargs,
        )
        self.l2 = float(l2)
        self.clip_factor = None if clip_factor is None else float(clip_factor)
        self.clip_eps = float(clip_eps)
        self.groups = dict(groups or {})

    def build(self, var_list):
        super().build(var_list)
        # Groups by Keras's own variable key: under tf.distribute, update_step gets each
        # replica's component variable (named ".../replica_1:0"), whose key is its
        # mirrored variable's.
        self._group_by_key = {self._var_key(v): self.groups.get(v.name) for v in var_list}

    def _group(self, variable: tf.Variable) -> dict | None:
        return self._group_by_key.get(self._var_key(variable))

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        # this update's shared scalars (`_scalars`); a namespace, which Keras's attribute
        # tracking leaves out of checkpoints (a dict it would wrap and try to save)
        self._scalar_cache = types.SimpleNamespace(entries={})
        return super().apply_gradients(grads_and_vars, *args, **kwargs)

    def _scalars(self, variable: tf.Variable) -> dict:
        """This update's scalars in `variable`'s dtype, built once per dtype, device and
        graph (fresh each time when eager).

        Keras calls `update_step` once per variable; building the rate, the bias
        corrections and Adam's, AGC's and L2's constants once for all of them keeps the
        traced train step small (ReActNet-18, 106 variables: Adam's once saved ~1,800
        graph ops; AGC's and L2's took the optimizer's graph from 5,437 to 4,483 ops and
        its trace from 3.9 to 3.1 s on a busy AMD EPYC). `_variable_update` takes them
        as arguments.
        """
        dtype = variable.dtype
        if tf.executing_eagerly():
            return self._new_scalars(dtype)
        cache = getattr(self, "_scalar_cache", None)
        if cache is None:  # update_step called outside apply_gradients
            cache = self._scalar_cache = types.SimpleNamespace(entries={})
        key = (dtype, variable.device, tf.compat.v1.get_default_graph())
        if key not in cache.entries:
            cache.entries[key] = self._new_scalars(dtype)
        return cache.entries[key]

    def _new_scalars(self, dtype: tf.DType) -> dict:
        """The scalars named in `SCALARS`, as tensors of `dtype`."""
        # Python floats become constants of `dtype` directly: tf.cast(0.9, float64) would
        # first round 0.9 to float32.
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.constant(self.beta_1, dtype)
        beta_2 = tf.constant(self.beta_2, dtype)
        step_size = tf.cast(self.learning_rate, dtype) / (1 - tf.pow(beta_1, step))
        root_correction = tf.sqrt(1 - tf.pow(beta_2, step))
        adam = {  # `_adam_update` says why these
            "rate": step_size * root_correction,
            "beta_1": beta_1,
            "beta_2": beta_2,
            "epsilon_t": tf.constant(self.epsilon, dtype) * root_correction,
        }
        clip = {
            "clip_factor": tf.constant(self.clip_factor or 0.0, dtype),
            "eps": tf.constant(self.clip_eps, dtype),
            "min_grad_norm": tf.constant(MIN_GRAD_NORM, dtype),
        }
        return {"adam": adam, "clip": clip, "l2": tf.constant(self.l2, dtype)}

    def update_step(self, gradient, variable):
        """AGC, L2 and PyTorch's Adam update (`torch.optim.Adam`) in `variable.dtype`."""
        gradient = tf.convert_to_tensor(gradient)  # our models have no sparse gradients
        group = self._group(variable) or {}
        clip = self.clip_factor is not None and group.get("clip", False)
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        _variable_update_once(
            variable.handle,
            m.handle,
            v.handle,
            gradient,
            *tf.nest.flatten(self._scalars(variable)),
            clip=clip,
            axes=_hashable(group["axes"]) if clip else None,
            decay=bool(self.l2) and group.get("decay", False),
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            l2=self.l2, clip_factor=self.clip_factor, clip_eps=self.clip_eps, groups=self.groups
        )
        return config


def _hashable(axes: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if axes is None else tuple(axes)


def _variable_update(variable, m, v, gradient, *scalars, clip, axes, decay):
    """`AGCAdam.update_step`'s work on one variable and its moments, given by their
    resource handles; `scalars` are `SCALARS`' tensors, flattened. Called through
    `_variable_update_once`: a function traced once per rank, dtype and group, not once per
    variable.

    Keras calls `update_step` once per variable. Written out inline, the updates were half
    of the traced train step: ReActNet-18's 106 variables took 4,149 of its 8,219 graph
    ops, and tracing an op costs about a millisecond of Python. Called, they are 5 traced
    functions and 345 ops of the step (measured at width 0.125 on an Intel Xeon, 2 CPUs:
    the step traced in 5.0-6.1 s instead of 8.9-10.7 s; `ab_math.traced_once` says why
    the calls are not inlined). Traced, the update was the same to the bit as inline.
    """
    # Handles, not tf.Variable arguments: a variable argument traces once per shape (25
    # shapes in ReActNet-18); a handle and a gradient of unknown dims trace once per rank.
    scalars = tf.nest.pack_sequence_as(SCALARS, list(scalars))

    parameter = tf.raw_ops.ReadVariableOp(resource=variable, dtype=gradient.dtype)
    parameter.set_shape(gradient.shape)
    if clip:
        gradient = adaptive_clip(gradient, parameter, axes=axes, **scalars["clip"])
    if decay:
        gradient = gradient + scalars["l2"] * parameter
    _adam_update(variable, m, v, gradient, **scalars["adam"])


_variable_update_once = ab_math.traced_once(_variable_update)


def _adam_update(variable, m, v, gradient, *, rate, beta_1, beta_2, epsilon_t):
    """`torch.optim.Adam`'s update of the variable and its moments (resource handles) by
    the (clipped, decayed) `gradient`, at step t:

        m = m + (1 - b1) * (g - m)                  v = b2 * v + (1 - b2) * g^2
        p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    as TensorFlow's fused `ResourceApplyAdam` kernel, one pass over the four tensors
    where the ops written out took 13. That kernel computes
    `p -= lr_t * m / (sqrt(v) + eps_t)`, `v += (g^2 - v) * (1 - b2)`: with its bias
    corrections off (powers 0, so `lr_t` is `rate`), `rate = lr * sqrt(1 - b2^t) / (1 -
    b1^t)` and `eps_t = eps * sqrt(1 - b2^t)` make it PyTorch's update (numerator and
    denominator times sqrt(1 - b2^t)), not Keras's "epsilon hat" (a constant added before
    the correction). Equal within rounding: the float64 replays (tests/test_training.py,
    tests/test_reference_training.py) hold at 1e-12 and 1e-10. Full-width ReActNet-18's
    106 updates took 29-31 ms instead of 51-54 (Intel Xeon capped at AVX2, 2 threads).

    Not XLA-compiled (`jit_compile`): XLA compiled one cluster per variable shape (25 in
    ReActNet-18) before the first batch, ~2.5 s of start-up, for 48-51 ms against 58-69 ms
    per step (AMD EPYC AVX2).
    """
    zero = tf.zeros([], gradient.dtype)
    tf.raw_ops.ResourceApplyAdam(
        var=variable, m=m, v=v, beta1_power=zero, beta2_power=zero, lr=rate, beta1=beta_1,
        beta2=beta_2, epsilon=epsilon_t, grad=gradient,
    )  # fmt: skip


@tf.keras.utils.register_keras_serializable(package="larq_abbnn")
class LinearDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """The reference's per-epoch linear decay, `lr_e = lr * (1 - e / E)`, of the iteration.

    `e = iteration // steps_per_epoch` is the epoch the update belongs to, as PyTorch's
    `LambdaLR(lambda e: 1 - e / E)` stepped once per epoch; the rate stays 0 after E
    epochs. Computed in float64, the same operations as the reference's Python floats, so
    `AGCAdam` casts the exact rate to each variable's dtype (Keras's
    `PiecewiseConstantDecay` would hold float32 rates).
    """

    def __init__(self, learning_rate: float, epochs: int, steps_per_epoch: int):
        if epochs < 1 or steps_per_epoch < 1:
            raise ValueError(
                f"epochs and steps_per_epoch must be positive, got {epochs} and {steps_per_epoch}"
            )
        self.learning_rate = float(learning_rate)
        self.epochs = int(epochs)
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step) -> tf.Tensor:
        epoch = tf.minimum(tf.cast(step, tf.int64) // self.steps_per_epoch, self.epochs)
        fraction = tf.cast(epoch, tf.float64) / tf.constant(self.epochs, tf.float64)
        return tf.constant(self.learning_rate, tf.float64) * (1 - fraction)

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
        }


# The legacy .h5 format names a learning-rate schedule by its bare class name ("LinearDecay",
# not the registered "larq_abbnn>LinearDecay"), and its loader looks that name up among
# the custom objects (measured: `load_model("c.h5")` of a compiled model raised `Unknown
# decay: 'LinearDecay'`). So the schedule answers to both names, as Larq registers its own
# objects by their bare names.
tf.keras.utils.get_custom_objects()[LinearDecay.__name__] = LinearDecay


def linear_decay(learning_rate: float, epochs: int, steps_per_epoch: int) -> LinearDecay:
    """The reference's per-epoch linear decay as a schedule of the iteration count.

    A schedule (not a callback), so a run restored by `BackupAndRestore` continues at the
    right rate. See `LinearDecay`.
    """
    return LinearDecay(learning_rate, epochs, steps_per_epoch)
