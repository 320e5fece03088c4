"""The paper's two ablations on A&B models: the fixed-slope leaky ReLU of 2^-3 instead of
Q-PReLU (`activation="leaky"`, the authors' commented-out `nn.LeakyReLU(0.125)`), and
alpha 2^-3 instead of 2^-2 (`alpha=0.125`): build, train, fold, convert and audit like
the default, reachable from `abbnn train` and `abbnn tune`."""

import json

import networks
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_abbnn

from abbnn import cli
from abbnn.cli import loaders
from larq_abbnn import data, layers, training, zoo
from larq_abbnn.analysis import count_multiplications, op_counts, report
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.converters import convert, fold, verify
from larq_abbnn.training.tune import RecipeHyperModel


@pytest.mark.parametrize(
    "name,activations",
    [("ab_reactnet18", 16), pytest.param("ab_reactneta", 26, marks=pytest.mark.slow)],
)
def test_leaky_ablation_replaces_every_q_prelu_and_deploys_without_multiplication(
    name, activations, capsys
):
    quarter = {"input_shape": (32, 32, 3), "num_classes": 10, "width_multiplier": 0.25}
    model = zoo.get(name)(activation="leaky", **quarter)
    leaky = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.LeakyReLU)]
    assert len(leaky) == activations and {float(layer.alpha) for layer in leaky} == {0.125}
    assert not any(isinstance(layer, layers.QuantRPReLU) for layer in model.layers)
    assert all(layer.name.split(".")[-1].startswith("prelu") for layer in leaky)  # reference paths
    # one variable fewer per activation: the exponents; the biases around it stay
    default = zoo.get(name)(**quarter)
    exponents = sum(
        int(layer.exponent.shape[0]) for layer in default.layers if hasattr(layer, "exponent")
    )
    assert model.count_params() == default.count_params() - exponents

    trained_looking(model)
    flatbuffer = convert(model)
    ops = op_counts(flatbuffer)
    assert ops["LEAKY_RELU"] == activations and "PRELU" not in ops and "MUL" not in ops
    keras, file = count_multiplications(model), count_multiplications(flatbuffer)
    assert keras.full_precision == file.full_precision == 0
    assert any(s.note == "fixed slope" and s.kind == "shift" for s in keras.sources)
    assert any(s.note == "fixed slope" and s.kind == "shift" for s in file.sources)
    verify(model, flatbuffer, samples=16, progress=True)
    # the bar counts stages, so it does not sit at 99% through the float64 ones
    bar = capsys.readouterr().err
    assert "verify: float64 folded (4 inputs)" in bar and "stage 6 of 6" in bar


def test_leaky_ablation_trains_and_continues_to_step_two(float64):
    model = networks.ab_reactnet18_one_block_per_stage(  # every kind of block, 4 binary convs
        input_shape=(16, 16, 3), num_classes=4, step=1, width_multiplier=0.125, activation="leaky"
    )
    trainable = training.compile_for_step(model, step=1, stem="cifar", epochs=1, steps_per_epoch=1)
    x = np.random.default_rng(0).normal(size=(8, 16, 16, 3))
    y = np.arange(8) % 4
    before = [w.numpy().copy() for w in model.trainable_weights]
    trainable.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    step2 = zoo.to_step(model, 2)
    assert isinstance(step2.get_layer("layer1.0.prelu"), tf.keras.layers.LeakyReLU)
    np.testing.assert_allclose(fold(step2)(x), step2(x), rtol=0, atol=1e-12)


def test_the_zoo_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match=r"activation must be one of \('qprelu', 'leaky'\)"):
        zoo.ABReActNetA(activation="relu")


def test_train_and_tune_take_both_ablations(tmp_path):
    parser = cli.build_parser()
    args = parser.parse_args(
        ["train", "--model", "ab_reactnet18", "--activation", "leaky", "--alpha", "0.125"]
    )
    args.input_shape, args.num_classes, args.stem, args.step = (32, 32, 3), 10, None, 2
    model = loaders.build_zoo_model(args.model, args)
    assert {layer.scale for layer in model.layers if isinstance(layer, layers.Scale)} == {0.125}
    assert isinstance(model.get_layer("layer4.3.prelu"), tf.keras.layers.LeakyReLU)
    tune = parser.parse_args(["tune", "--activation", "leaky", "--alpha", "0.125"])
    assert (tune.activation, tune.alpha) == ("leaky", 0.125)

    rng = np.random.default_rng(0)
    images = tf.data.Dataset.from_tensor_slices(
        (rng.normal(size=(8, 16, 16, 3)).astype("float32"), np.arange(8) % 2)
    ).batch(4)
    d = data.Data(images, images, 2, "cifar", 16, 8, 8, 4)
    import keras_tuner as kt

    hp = kt.HyperParameters()
    searched = RecipeHyperModel(
        "ab_reactnet18", d, epochs=1, steps_per_epoch=1, width_multiplier=0.125
    )
    fixed = RecipeHyperModel(
        "ab_reactnet18", d, epochs=1, steps_per_epoch=1, width_multiplier=0.125,
        alpha=0.125, activation="leaky",
    )  # fmt: skip
    searched.build(hp)
    assert "alpha_exponent" in hp.values and "prelu_exponent" in hp.values
    hp = kt.HyperParameters()
    model = fixed.build(hp)
    # the leaky ablation has no Q-PReLU slope: searching its exponent would change nothing
    assert "alpha_exponent" not in hp.values and "prelu_exponent" not in hp.values
    assert isinstance(model.get_layer("layer1.0.prelu"), tf.keras.layers.LeakyReLU)


def test_train_records_the_ablation_in_the_run_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
            (tmp_path / "images" / label / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    result = run_abbnn(
        "train", "--dataset", f"folder:{tmp_path / 'images'}", "--val-fraction", "0.5",
        "--epochs", "1", "--batch-size", "4", "--width-multiplier", "0.125", "--step", "1",
        "--activation", "leaky", "--alpha", "0.125", "--power-of-two-scales",
        "--output", str(tmp_path / "run"), "--verbose", "0", small=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (run["activation"], run["alpha"], run["model"], run["steps"]) == (
        "leaky",
        0.125,
        "ab_reactnet18",
        [1],
    )
    assert run["power_of_two_scales"] is True  # issue 33's option, recorded and named
    assert "power-of-two scales" in report.read_run(str(tmp_path / "run"), audit=False).label
    saved = tf.keras.models.load_model(tmp_path / "run" / "step1" / "best.keras", compile=False)
    assert isinstance(saved.get_layer("layer1.0.prelu"), tf.keras.layers.LeakyReLU)
    assert saved.get_layer("layer1.0.conv1").power_of_two_scale  # for step 2, saved with it
