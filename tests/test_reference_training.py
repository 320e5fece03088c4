"""Training against the authors' own code: fixtures from tools/make_reference_fixtures.py.

Each case is one block at a small width, built from the authors' `Network/` modules in
float64, and three updates of their notebooks' loop (AGC 0.001, `torch.optim.Adam` with
L2 on 4-D parameters, `LambdaLR` linear decay stepped between updates). The same block
from our zoo, loaded with the same initial weights, trained by `AGCAdam` with
`parameter_groups` and `linear_decay`, must land on the same weights.
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn.checkpoints.reference_layout import reference_entries
from larq_abbnn.training import AGCAdam, linear_decay, parameter_groups
from larq_abbnn.zoo import config, reactnet_a, resnet

FIXTURE = Path(__file__).parent / "data" / "reference_training.npz"
CASES = ["ab_reactnet18_step1", "ab_reactnet18_step2", "ab_reactneta_step1", "ab_reactneta_step2"]


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def _case(fixture, case):
    prefix = f"{case}/"
    return {k[len(prefix) :]: v for k, v in fixture.items() if k.startswith(prefix)}


def _block_model(case, data):
    """Our zoo block, named `block`, at the fixture's width, stride 2, reference padding."""
    step = int(case[-1])
    cfg = config.Config(stem="cifar", step=step, padding="reference")
    alpha, betas = float(data["alpha"]), [float(b) for b in data["betas"]]
    inputs = tf.keras.Input(data["x"].shape[1:][1:] + data["x"].shape[1:2])
    if case.startswith("ab_reactnet18"):
        outputs = resnet.ab_reactnet_block(inputs, 16, 2, alpha, betas[0], cfg, "block")
    else:
        outputs = reactnet_a.ab_block(inputs, 16, 2, alpha, tuple(betas), cfg, "block")
    model = tf.keras.Model(inputs, outputs)
    entries = {k.removeprefix("block."): e for k, e in reference_entries(model).items()}
    reference_keys = {k.removeprefix("init/") for k in data if k.startswith("init/")}
    assert set(entries) == reference_keys
    for key, entry in entries.items():
        entry.variable.assign(entry.to_keras(data[f"init/{key}"]).reshape(entry.variable.shape))
    return model, entries


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def _relative(ours, theirs):
    return np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-300)


@pytest.mark.parametrize("case", CASES)
def test_block_forward_and_input_gradient_match_the_authors_code(float64, fixture, case):
    data = _case(fixture, case)
    model, _ = _block_model(case, data)
    x = tf.constant(_nhwc(data["x"]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=True)
        loss = 0.5 * tf.reduce_mean(tf.square(y))
    assert _relative(y.numpy(), _nhwc(data["out"])) <= 1e-12
    assert _relative(tape.gradient(loss, x).numpy(), _nhwc(data["x_grad"])) <= 1e-12
    assert abs(float(loss) - data["loss"][0]) <= 1e-12 * abs(data["loss"][0])


@pytest.mark.parametrize("case", CASES)
def test_three_updates_match_the_authors_training_loop(float64, fixture, case):
    data = _case(fixture, case)
    model, entries = _block_model(case, data)
    optimizer = AGCAdam(
        linear_decay(1e-3, epochs=3, steps_per_epoch=1),
        l2=float(data["weight_decay"]),
        clip_factor=0.001,
        groups=parameter_groups(model),
    )
    x = tf.constant(_nhwc(data["x"]))
    losses = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = 0.5 * tf.reduce_mean(tf.square(model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        losses.append(float(loss))
    np.testing.assert_allclose(losses, data["loss"], rtol=1e-12)
    for key, entry in entries.items():
        init, final = data[f"init/{key}"], data[f"final/{key}"]
        ours = entry.to_reference(entry.variable.numpy()).reshape(final.shape)
        assert np.abs(final - init).max() > 0, f"{key} did not move in the reference"
        # the update itself, not just the weights, to 1e-10
        assert _relative(ours - init, final - init) <= 1e-10, key
