"""The training recipe: parameter groups, AGC, coupled L2, schedule, distillation, runs."""

import json
import os
import subprocess
import sys

import networks
import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn import data, layers, training, zoo
from larq_abbnn.analysis import report
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.checkpoints.reference_layout import reference_entries
from larq_abbnn.training import AGCAdam, adaptive_clip, parameter_groups, unitwise_norm


def _reference_unitwise_norm(p):
    """The reference's unitwise_norm on a PyTorch-layout tensor."""
    if p.ndim <= 1:
        return np.full(p.shape, np.sqrt((p**2).sum()))
    axes = tuple(range(1, p.ndim))
    return np.broadcast_to(np.sqrt((p**2).sum(axis=axes, keepdims=True)), p.shape)


@pytest.mark.parametrize("name", ["ab_reactnet18", "ab_reactneta", "ab_biresnet18"])
def test_decay_and_clip_select_the_reference_parameters(name, reference_state_dicts):
    model = zoo.get(name)(input_shape=(32, 32, 3), num_classes=10, step=1)
    groups = parameter_groups(model)
    state = reference_state_dicts[name]["step1"]["cifar10"]["state_dict"]
    decayed = sum(int(np.prod(s)) for s in state.values() if len(s) == 4)
    entries = reference_entries(model)
    assert set(entries) == set(state)
    for key, entry in entries.items():
        group = groups[entry.variable.name]
        assert group["decay"] == (len(entry.reference_shape) == 4), key
        assert group["clip"] == (not key.startswith("fc.")), key
    ours = sum(int(np.prod(v.shape)) for v in model.trainable_weights if groups[v.name]["decay"])
    assert ours == decayed
    assert not any(groups[v.name]["decay"] for v in model.trainable_weights if "prelu" in v.name)


@pytest.mark.parametrize("name", ["ab_reactnet18", "bnfree_reactneta"])
def test_unitwise_norms_are_the_references_units(name):
    """Keras-layout norms, moved to PyTorch layout, equal the reference's per-unit norms."""
    model = zoo.get(name)(input_shape=(32, 32, 3), num_classes=10, step=1)
    groups = parameter_groups(model)
    rng = np.random.default_rng(0)
    for key, entry in reference_entries(model).items():
        if not groups[entry.variable.name]["clip"]:
            continue  # the head
        p = rng.normal(size=entry.variable.shape)
        ours = np.broadcast_to(
            unitwise_norm(tf.constant(p), groups[entry.variable.name]["axes"]), p.shape
        )
        expected = _reference_unitwise_norm(entry.to_reference(p).reshape(entry.reference_shape))
        np.testing.assert_allclose(
            entry.to_reference(np.array(ours)).reshape(entry.reference_shape), expected, err_msg=key
        )


def test_adaptive_clip_formula_on_a_hand_made_gradient():
    # two output units of a 1x1x2x2 kernel: |p| = (5, 0.0005->eps), c = 0.1
    p = np.array([[[[3.0, 0.0], [4.0, 0.0005]]]])
    g = np.array([[[[0.3, 1.0], [0.4, 0.0]]]])  # unit norms 0.5 and 1.0
    out = adaptive_clip(tf.constant(g), tf.constant(p), 0.1, axes=[0, 1, 2], eps=1e-3).numpy()
    # unit 0: max 5*0.1 = 0.5, |g| = 0.5, not above: unchanged
    np.testing.assert_allclose(out[..., 0], g[..., 0])
    # unit 1: max(|p|, eps) = 1e-3 -> max 1e-4; g scaled to norm 1e-4
    np.testing.assert_allclose(out[..., 1], g[..., 1] * 1e-4 / 1.0)
    # per-element units (gains): each element clipped on its own
    out = adaptive_clip(tf.constant([2.0, 0.01]), tf.constant([1.0, 1.0]), 0.1, axes=[]).numpy()
    np.testing.assert_allclose(out, [0.1, 0.01])


def _torch_adam_with_agc(params, grads, state, *, t, lr, l2, clip_factor, eps_agc=1e-3):
    """One step of the reference's loop in NumPy, on PyTorch-layout arrays keyed by name.

    `adaptive_clip_grad` on every key but `fc.*` (the authors' Network/utils.py), then
    `torch.optim.Adam` as documented: L2 on 4-D tensors, m/v, eps 1e-8 on the
    bias-corrected root.
    """
    b1, b2, eps = 0.9, 0.999, 1e-8
    for key, p in params.items():
        g = grads[key]
        if not key.startswith("fc."):
            max_norm = np.maximum(_reference_unitwise_norm(p), eps_agc) * clip_factor
            grad_norm = _reference_unitwise_norm(g)
            g = np.where(grad_norm < max_norm, g, g * (max_norm / np.maximum(grad_norm, 1e-6)))
        if p.ndim == 4:
            g = g + l2 * p
        m, v = state.setdefault(key, (np.zeros_like(p), np.zeros_like(p)))
        m = m + (1 - b1) * (g - m)
        v = v * b2 + (1 - b2) * g * g
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
        params[key] = p - lr / (1 - b1**t) * (m / denom)
        state[key] = (m, v)


@pytest.mark.parametrize("step,xla", [(1, False), (2, False), (1, True)])
def test_agc_adam_is_pytorchs_adam_with_agc_across_an_epoch_boundary(float64, step, xla):
    """6 updates in `model.fit`'s path (3 epochs of 2 steps, so the rate decays twice)
    equal a NumPy run of `torch.optim.Adam` + the spec's AGC and L2 to 1e-12, in
    PyTorch layout. Keras's own Adam (epsilon before the bias correction, float32
    betas) misses this by 0.6-0.98 relative on the first update. `xla`: Keras's path on
    a GPU, where it XLA-compiles each variable's `update_step` (`optimizer.jit_compile`,
    True only where it finds a GPU), around `_variable_update`'s function call.
    """
    tf.keras.utils.set_random_seed(step)
    # ReActNet-18 at one block per stage: every kind of variable the recipe treats (stem,
    # plain and strided blocks with their shortcut convs, biases, slopes, head)
    model = networks.ab_reactnet18_one_block_per_stage(
        input_shape=(16, 16, 3), num_classes=10, stem="cifar", step=step, width_multiplier=0.125
    )
    if step == 2:  # step 1 from a fresh init: zero biases, where epsilon mattered most
        trained_looking(model, seed=step)
    epochs, steps_per_epoch, lr, l2 = 3, 2, 1e-3, 5e-6 if step == 1 else 0.0
    fit_model = training.compile_for_step(
        model, step=step, stem="cifar", epochs=epochs, steps_per_epoch=steps_per_epoch
    )
    assert fit_model.optimizer.l2 == l2
    fit_model.optimizer.jit_compile = xla
    entries = reference_entries(model)
    params = {k: e.to_reference(e.variable.numpy()) for k, e in entries.items()}
    start = {k: p.copy() for k, p in params.items()}
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(step)
    state: dict = {}
    # The reference's gradients at its own current parameters come from a probe model.
    probe = networks.ab_reactnet18_one_block_per_stage(
        input_shape=(16, 16, 3), num_classes=10, stem="cifar", step=step, width_multiplier=0.125
    )
    probe_entries = reference_entries(probe)
    for t in range(1, epochs * steps_per_epoch + 1):
        x = rng.normal(size=(8, 16, 16, 3))
        y = rng.integers(0, 10, size=(8,))
        for k, e in probe_entries.items():
            e.variable.assign(e.to_keras(params[k]).reshape(e.variable.shape))
        with tf.GradientTape() as tape:
            loss = loss_fn(y, probe(x, training=True))
        variables = [e.variable for e in probe_entries.values()]
        grads = tape.gradient(loss, variables)
        grads = {k: e.to_reference(g.numpy()) for (k, e), g in zip(probe_entries.items(), grads)}
        epoch = (t - 1) // steps_per_epoch
        _torch_adam_with_agc(
            params, grads, state, t=t, lr=lr * (1 - epoch / epochs), l2=l2, clip_factor=0.001
        )
        fit_model.train_on_batch(x, y)
    assert int(fit_model.optimizer.iterations) == 6
    worst = 0.0
    for k, e in entries.items():
        update = e.to_reference(e.variable.numpy()) - start[k]
        expected = params[k] - start[k]
        assert np.linalg.norm(expected) > 0, k
        error = np.linalg.norm(update - expected) / np.linalg.norm(expected)
        assert error <= 1e-12, (k, error)
        worst = max(worst, error)
    print(f"step {step}: worst relative update error {worst:.2e}")


def test_agc_adam_config_round_trips():
    model = zoo.ABReActNet18(
        input_shape=(32, 32, 3), num_classes=10, step=1, width_multiplier=0.125
    )
    groups = parameter_groups(model)
    opt = AGCAdam(training.linear_decay(1e-3, 4, 10), l2=0.5, clip_factor=0.02, groups=groups)
    config = AGCAdam.from_config(opt.get_config()).get_config()
    assert config["groups"] == groups and config["l2"] == 0.5 and config["clip_factor"] == 0.02
    assert config["epsilon"] == 1e-8 and config["beta_1"] == 0.9 and config["beta_2"] == 0.999
    assert config["learning_rate"]["config"] == {
        "learning_rate": 1e-3,
        "epochs": 4,
        "steps_per_epoch": 10,
    }
    with pytest.raises(ValueError, match="amsgrad"):
        AGCAdam(amsgrad=True)


def test_linear_decay_is_per_epoch():
    schedule = training.linear_decay(1e-3, epochs=4, steps_per_epoch=10)
    rates = [schedule(step) for step in (0, 9, 10, 19, 20, 30, 39, 40, 55)]
    assert all(r.dtype == tf.float64 for r in rates)
    # the reference's Python floats, bit for bit: 1e-3 * (1.0 - e / 4)
    expected = [1e-3 * (1.0 - e / 4) for e in (0, 0, 1, 1, 2, 3, 3, 4, 4)]
    assert [float(r) for r in rates] == expected
    with pytest.raises(ValueError, match="epochs and steps_per_epoch must be positive"):
        training.linear_decay(1e-3, epochs=0, steps_per_epoch=10)


def test_a_compiled_and_trained_model_saves_as_h5_and_loads_with_its_optimizer(tmp_path):
    """A model `compile_for_step` compiled and `fit` trained, saved in the legacy `.h5`
    format and read back by Keras's own loader (the trial: `Unknown decay: 'LinearDecay'`;
    `.keras` files, the runs' own, are read back by the resume tests)."""
    model = networks.small(step=1, seed=None)
    compiled = training.compile_for_step(
        model, step=1, stem="cifar", epochs=3, steps_per_epoch=2, learning_rate=0.004
    )
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    compiled.fit(x, np.arange(4), batch_size=2, epochs=1, verbose=0)
    path = str(tmp_path / "c.h5")
    compiled.save(path)
    restored = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    schedule = restored.optimizer._learning_rate  # Keras keeps the schedule there
    assert isinstance(schedule, training.LinearDecay)
    assert schedule.get_config() == {"learning_rate": 0.004, "epochs": 3, "steps_per_epoch": 2}
    assert type(restored.optimizer) is type(compiled.optimizer)
    assert int(restored.optimizer.iterations) == 2


def test_compile_uses_the_recipe_defaults():
    model = zoo.ABReActNet18(
        input_shape=(32, 32, 3), num_classes=10, step=1, width_multiplier=0.125
    )
    step1 = training.compile_for_step(model, step=1, stem="cifar", epochs=2, steps_per_epoch=3)
    assert step1.optimizer.l2 == 5e-6 and step1.optimizer.clip_factor == 0.001
    step2 = training.compile_for_step(model, step=2, stem="imagenet", epochs=2, steps_per_epoch=3)
    assert step2.optimizer.l2 == 0.0 and step2.optimizer.clip_factor == 0.02


def test_distiller_trains_the_student_on_the_teachers_softmax():
    tf.keras.utils.set_random_seed(0)
    student = networks.small(step=1, seed=None)
    teacher = tf.keras.Sequential(
        [tf.keras.Input((32, 32, 3)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(10)]
    )
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    fit_model = training.compile_for_step(
        student, step=1, stem="cifar", epochs=1, steps_per_epoch=2, teacher=teacher
    )
    assert isinstance(fit_model, training.Distiller)
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 10
    soft = tf.nn.softmax(teacher(x)).numpy()
    logits = student(x, training=False).numpy()
    expected = -np.mean(np.sum(soft * tf.nn.log_softmax(logits).numpy(), axis=1))
    result = fit_model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)
    student_before = [w.copy() for w in student.get_weights()]
    fit_model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for a, b in zip(teacher_weights, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(student_before, student.get_weights()))


def test_distiller_refuses_a_teacher_of_other_classes():
    student = networks.small(step=1, seed=None)
    teacher = tf.keras.Sequential(
        [tf.keras.Input((32, 32, 3)), tf.keras.layers.Flatten(), tf.keras.layers.Dense(100)]
    )
    with pytest.raises(ValueError, match="100 outputs.*10"):
        training.Distiller(student, teacher)


def _tiny_data(n=64, classes=4, batch_size=16, shuffle=True):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 16, 16, 3)).astype(tf.keras.backend.floatx())
    y = (np.arange(n) % classes).astype("int64")
    train = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        train = train.shuffle(n, seed=0)
    train = train.batch(batch_size)
    val = tf.data.Dataset.from_tensor_slices((x[:32], y[:32])).batch(batch_size)
    return data.Data(train, val, classes, "cifar", 16, n, 32, batch_size)


def _build(step=1):
    """The zoo's ReActNet-18 at one block per stage, for the runs whose record names it
    (report, run.json): named and built as the zoo's, a third of its tracing."""
    return networks.ab_reactnet18_one_block_per_stage(
        input_shape=(16, 16, 3), num_classes=4, stem="cifar", step=step, width_multiplier=0.125
    )


def _small(step=1):
    """ReActNet-18's blocks, one per stage: for the runs whose claim is the loop (resume,
    NaN), a quarter of a ReActNet-18's tracing."""
    return networks.small(step=step, input_size=16, num_classes=4, stem_width=8, seed=None)


class _Interrupt(tf.keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt  # what a killed run looks like to Keras: no cleanup


def test_an_interrupted_step_resumes_with_the_same_optimizer_state(tmp_path, capsys):
    """Interrupted after 2 of 4 epochs and resumed == 4 epochs straight, to the last bit."""
    tf.config.experimental.enable_op_determinism()
    try:
        tf.keras.utils.set_random_seed(0)
        straight = training.train_recipe_step(
            _small,
            _tiny_data(shuffle=False),
            step=1,
            epochs=4,
            folder=str(tmp_path / "a"),
            verbose=0,
        )
        tf.keras.utils.set_random_seed(0)
        with pytest.raises(KeyboardInterrupt):
            training.train_recipe_step(
                _small,
                _tiny_data(shuffle=False),
                step=1,
                epochs=4,
                folder=str(tmp_path / "b"),
                verbose=0,
                callbacks=[_Interrupt(2)],
            )
        assert os.path.exists(tmp_path / "b" / "backup")
        assert not os.path.exists(tmp_path / "b" / "done.json")
        capsys.readouterr()
        resumed = training.train_recipe_step(
            _small,
            _tiny_data(shuffle=False),
            step=1,
            epochs=4,
            folder=str(tmp_path / "b"),
            verbose=2,
        )
        assert "resuming step 1 at epoch 3 of 4\n" in capsys.readouterr().out
    finally:
        from tensorflow.python.framework import config

        config.disable_op_determinism()
    assert resumed.history["epoch"] == [1, 2, 3, 4]  # counted from 1, as printed
    np.testing.assert_array_equal(straight.history["loss"], resumed.history["loss"])
    a = tf.keras.models.load_model(tmp_path / "a" / "last.keras")
    b = tf.keras.models.load_model(tmp_path / "b" / "last.keras")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


class _Poison(tf.keras.callbacks.Callback):
    def __init__(self, at_epoch=2):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            fc = self.model.get_layer("fc")
            fc.bias.assign(np.full(fc.bias.shape, np.nan, np.float32))


def test_a_nan_first_epoch_names_no_file_that_does_not_exist(tmp_path):
    """(`--lr inf` did this: the error named a last.keras that was never written.)"""
    with pytest.raises(training.TrainingError) as error:
        training.train_recipe_step(
            _small, _tiny_data(), step=1, epochs=1, folder=str(tmp_path), verbose=0,
            callbacks=[_Poison(at_epoch=0)],
        )  # fmt: skip
    assert "stopped at epoch 1 of 1" in str(error.value)
    assert "No epoch finished with a finite loss, so no model was saved" in str(error.value)
    assert "last.keras" not in str(error.value) and not (tmp_path / "last.keras").exists()


def test_nan_loss_stops_and_keeps_the_last_good_model(tmp_path):
    with pytest.raises(
        training.TrainingError, match="stopped at epoch 3 of 5: the loss became NaN.*epoch 2"
    ):
        training.train_recipe_step(
            _small,
            _tiny_data(),
            step=1,
            epochs=5,
            folder=str(tmp_path),
            verbose=0,
            callbacks=[_Poison()],
        )
    last = tf.keras.models.load_model(tmp_path / "last.keras")
    assert all(np.isfinite(w).all() for w in last.get_weights())
    assert json.loads((tmp_path / "last.json").read_text())["epoch"] == 2
    assert not (tmp_path / "done.json").exists()


def test_top5_metric_works_in_float64_and_counts_ties_as_in_top_k():
    """Keras's top-5 metric has no float64 kernel (`in_top_k`); ours gives its answers."""
    from larq_abbnn.training.metrics import sparse_top_k_accuracy

    scores = tf.constant([[5.0, 4, 3, 2, 1, 0], [0, 1, 1, 1, 1, 1], [9, 8, 7, 6, 5, 4]], tf.float64)
    hits = sparse_top_k_accuracy(tf.constant([4, 0, 5]), scores, k=5).numpy()
    np.testing.assert_array_equal(hits, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        hits, tf.math.in_top_k(tf.constant([4, 0, 5]), tf.cast(scores, tf.float32), 5).numpy()
    )


class _InitialWeights(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.snapshots = []

    def on_train_begin(self, logs=None):
        self.snapshots.append([w.copy() for w in self.model.get_weights()])


def test_two_step_continues_from_step_one_best(tmp_path, capsys):
    tf.keras.utils.set_random_seed(0)
    initial = _InitialWeights()
    first, second = training.two_step(
        _build, _tiny_data(), epochs=(2, 1), folder=str(tmp_path), verbose=0, callbacks=[initial]
    )
    assert (first.epochs, second.epochs) == (2, 1)
    best1 = tf.keras.models.load_model(first.best_path)
    assert not any(l.binary_weights for l in best1.layers if hasattr(l, "binary_weights"))
    best2 = tf.keras.models.load_model(second.best_path)
    assert all(l.binary_weights for l in best2.layers if hasattr(l, "binary_weights"))
    # step 2 starts from step 1's best weights
    for a, b in zip(initial.snapshots[1], best1.get_weights()):
        np.testing.assert_array_equal(a, b)
    for step in (first, second):
        done = json.loads((tmp_path / f"step{step.step}" / "done.json").read_text())
        assert done["best_epoch"] == step.best_epoch
        assert not (tmp_path / f"step{step.step}" / "backup").exists()
    # both steps done: running again returns at once from done.json, and says so
    capsys.readouterr()
    again, _ = training.two_step(_build, _tiny_data(), epochs=(2, 1), folder=str(tmp_path))
    assert again.best_val_accuracy == first.best_val_accuracy
    out = capsys.readouterr().out
    assert "step 1 of 2 finished earlier: skipped" in out
    assert "step 2 of 2 finished earlier: skipped" in out
    # a folder two_step writes from Python is one `abbnn report` reads
    run = report.read_run(str(tmp_path), audit=False)
    assert (run.model, run.label, sorted(run.steps)) == ("ab_reactnet18", "ab_reactnet18", [1, 2])
    assert run.steps[2]["best_val_accuracy"] == second.best_val_accuracy
    assert run.config["epochs"] == [2, 1] and run.config["num_classes"] == 4
    # and a rerun that would train something else is refused before it trains
    with pytest.raises(training.RunMismatch, match=r"epochs \[2, 1\] there, \[3, 1\] now"):
        training.two_step(_build, _tiny_data(), epochs=(3, 1), folder=str(tmp_path))


def test_two_step_on_tfds_mock_cifar10(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    # mock data prepares nothing: no download to check (tests/test_data.py tests that check)
    monkeypatch.setattr(data, "_check_downloadable", lambda *args: None)
    with tfds.testing.mock_data(num_examples=16):
        d = data.load("cifar10", batch_size=8)
        first, second = training.two_step(
            lambda step: networks.small(step=step, num_classes=d.num_classes, seed=None),
            d,
            epochs=1,
            folder=str(tmp_path),
            recipe=training.Recipe(steps_per_epoch=2, validation_steps=1),
            verbose=0,
        )
    assert (first.step, second.step) == (1, 2)
    assert (tmp_path / "step2" / "best.keras").exists()
    assert np.isfinite(second.history["loss"]).all()


MIRRORED_STEP = f"""
import sys
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.keras.backend.set_floatx("float64")
from larq_abbnn import training, zoo
from larq_abbnn.analysis.synthetic import trained_looking

def build():  # ReActNet-18's blocks, one per stage
    import networks
    return networks.small(step=1, input_size=16, stem_width=8, seed=3)

rng = np.random.default_rng(0)
x, y = rng.normal(size=(16, 16, 16, 3)), rng.integers(0, 10, 16)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # 2 global batches of 8
updates = []
for strategy in (tf.distribute.get_strategy(),
                 tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
    with strategy.scope():
        model = build()
        before = [w.numpy() for w in model.trainable_weights]
        fit_model = training.compile_for_step(
            model, step=1, stem="cifar", epochs=2, steps_per_epoch=1)
    fit_model.fit(data, epochs=2, verbose=0)
    updates.append([w.numpy() - b for w, b in zip(model.trainable_weights, before)])
    print("replicas", strategy.num_replicas_in_sync)
errors = [np.linalg.norm(m - s) / np.linalg.norm(s) for s, m in zip(*updates)]
print("worst", max(errors))
"""


def test_mirrored_training_equals_one_device_in_float64():
    """Clipping and decay run after the cross-replica sum: 2 epochs of one global batch of 8
    on 2 logical CPUs (4 per replica) move every weight as one device does, to 1e-12."""
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_STEP],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert "replicas 1" in result.stdout and "replicas 2" in result.stdout
    worst = float(result.stdout.split("worst")[-1])
    assert worst <= 1e-12, result.stdout


def test_train_refuses_steps_and_epochs_it_cannot_run_before_touching_the_folder(tmp_path):
    """`training.train`, which `abbnn train` calls for both steps or one: a step order the
    recipe has not, or epochs that do not match the steps, are refused up front."""
    with pytest.raises(ValueError, match=r"steps must be \(1, 2\), \(1,\) or \(2,\), got \(2, 1\)"):
        training.train(_build, _tiny_data(), steps=(2, 1), epochs=1, folder=str(tmp_path / "a"))
    with pytest.raises(ValueError, match=r"epochs \(2, 1\) for steps \(2,\)"):
        training.train(_build, _tiny_data(), steps=(2,), epochs=(2, 1), folder=str(tmp_path / "b"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", [1, 2])
def test_the_optimizers_traced_update_stays_small(step):
    """Tracing costs about a millisecond per graph op, and the optimizer's update, written
    out per variable, was half of a train step's ops (41-43 per variable). Each variable's
    update is now a call of a function traced once per rank, dtype and group: 7 ops per
    variable in the step (the call, its inputs, Keras's Identity) and 5-6 small functions,
    measured on this network with TF 2.21."""
    model = networks.small(step=step)
    trainable = training.compile_for_step(
        model, step=step, stem="cifar", epochs=1, steps_per_epoch=1
    )
    optimizer = trainable.optimizer
    optimizer.build(model.trainable_variables)

    @tf.function
    def update(gradients):
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    graph = update.get_concrete_function(
        [tf.zeros_like(v) for v in model.trainable_variables]
    ).graph.as_graph_def()
    count = len(model.trainable_variables)
    assert len(graph.node) <= 8 * count, len(graph.node) / count
    assert sum(node.op == "StatefulPartitionedCall" for node in graph.node) == count
    assert len(graph.library.function) <= 6, [f.signature.name for f in graph.library.function]
    assert sum(len(f.node_def) for f in graph.library.function) <= 250
    assert sum(node.op == "Identity" for node in graph.node) <= count


@pytest.mark.parametrize("step", [1, 2])
def test_the_layers_traced_gradient_stays_small(step):
    """The gradients every layer of a kind repeats are calls of a function traced once per
    rank and dtype (`math.traced_once`), not ops per layer: the weight standardization's
    (TensorFlow's own was ~40 ops per conv) and the per-channel sums of the biases' and
    slopes' gradients (12 ops each). Forward and gradient of this network (34 variables),
    measured with TF 2.21: step 1 777 ops, step 2 913; 1,175 and 1,311 with TensorFlow's
    own gradients (before `traced_once`). The calls take no constants."""
    model = networks.small(step=step)

    @tf.function
    def gradients(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(images, training=True))
        return tape.gradient(loss, model.trainable_variables)

    graph = gradients.get_concrete_function(tf.zeros([2, 32, 32, 3])).graph.as_graph_def()
    calls = [node.attr["f"].func.name for node in graph.node if node.op == "PartitionedCall"]
    standardized = [layer for layer in model.layers if hasattr(layer, "gain")]
    biased = [
        layer
        for layer in model.layers
        if isinstance(layer, (layers.LearnableBias, layers.QuantRPReLU))
    ]
    assert sum("standardized_gradient" in name for name in calls) == len(standardized)
    assert sum("channel_sum" in name for name in calls) == len(biased)
    assert len(graph.node) <= 28 * len(model.trainable_variables)
    # No traced_once call takes a constant: Grappler would specialize the function for each
    # call site and optimize every copy before the first step (ReActNet-18: 20, 0.2 s).
    # (The XLA-compiled backward functions, which take k, are not specialized.)
    ops = {node.name: node.op for node in graph.node}
    for node in graph.node:
        name = node.attr["f"].func.name
        if node.op == "PartitionedCall" and ("standardized" in name or "channel_sum" in name):
            sources = [ops[source.lstrip("^").split(":")[0]] for source in node.input]
            assert "Const" not in sources, (name, sources)
