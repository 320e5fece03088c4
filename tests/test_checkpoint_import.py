import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch_format
from conftest import np_conv2d, np_scaled_std, np_sign, run_abbnn

from larq_abbnn import zoo
from larq_abbnn.checkpoints import (
    CheckpointError,
    load_official_checkpoint,
    read_state_dict,
    reference_entries,
)

DATA = Path(__file__).parent / "data"


def _reference_state(model, seed=0, prefix="module."):
    """A trained-looking state dict with the reference keys and layouts of `model`."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, entry in reference_entries(model).items():
        shape = entry.reference_shape
        if key.endswith("gain"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("L_alpha"):
            value = rng.uniform(-6, 1.4, shape)
        elif ".bias" in key and len(shape) == 4:
            value = rng.normal(0, 0.1, shape)
        elif "prelu" in key:
            value = rng.uniform(0, 0.5, shape)
        elif key.endswith("num_batches_tracked"):  # BatchNorm's counter, an int64 scalar
            state[prefix + key] = np.asarray(rng.integers(0, 1000), np.int64)
            continue
        elif key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0, 0.05, shape)
        state[prefix + key] = value.astype(np.float32)
    return state


# -- the torch.save format -------------------------------------------------------------


def test_reads_a_real_torch_save_file_without_torch():
    """tests/data/tiny_torch_checkpoint.pt was written by torch.save (PyTorch 2.13)."""
    state = read_state_dict(DATA / "tiny_torch_checkpoint.pt")
    assert sorted(state) == sorted(
        f"module.{k}" for k in ("conv.weight", "transposed", "half", "long", "view_a", "view_b")
    )
    np.testing.assert_array_equal(state["module.conv.weight"], np.arange(24).reshape(2, 3, 2, 2))
    assert state["module.conv.weight"].dtype == np.float32
    np.testing.assert_array_equal(state["module.transposed"], np.arange(6.0).reshape(2, 3).T)
    assert state["module.half"].dtype == np.float16 and state["module.long"].dtype == np.int64
    np.testing.assert_array_equal(state["module.view_a"], np.arange(2, 8).reshape(2, 3))
    np.testing.assert_array_equal(state["module.view_b"], np.arange(6, 12))


def test_writer_used_by_these_tests_produces_what_the_reader_reads(tmp_path):
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2)}
    torch_format.save(state, tmp_path / "c.pt", extra={"epoch": 3})
    read = read_state_dict(tmp_path / "c.pt")
    assert sorted(read) == ["a", "b"]
    np.testing.assert_array_equal(read["a"], state["a"])


class _Exploit:
    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return (self.call, self.args)


@pytest.mark.parametrize(
    "exploit,refused",
    [
        (lambda marker: _Exploit(os.system, f"touch {marker}"), r"(os|posix)\.system"),
        (
            lambda marker: _Exploit(eval, f"open({str(marker)!r}, 'w')"),
            r"(builtins|__builtin__)\.eval",
        ),
        (lambda marker: _Exploit(getattr, "text", "upper"), r"(builtins|__builtin__)\.getattr"),
    ],
    ids=["os.system", "eval", "getattr"],
)
def test_pickles_that_call_anything_else_are_refused_before_running(tmp_path, exploit, refused):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch_format.save_pickle(pickle.dumps({"w": exploit(marker)}, protocol=2), path)
    with pytest.raises(CheckpointError, match=f"evil.pt: refusing to load global '{refused}'"):
        read_state_dict(path)
    assert not marker.exists()


def test_truncated_and_foreign_files_are_refused_with_the_path(tmp_path):
    model = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    good = tmp_path / "good.pt"
    torch_format.save(_reference_state(model), good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt is not a PyTorch checkpoint"):
        read_state_dict(truncated)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.h5 is not a PyTorch checkpoint"):
        read_state_dict(text)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        read_state_dict(tmp_path / "missing.pt")


def test_storage_sizes_that_lie_are_refused(tmp_path):
    path = tmp_path / "lying.pt"
    torch_format.save({"w": np.ones((4, 4), np.float32)}, path, declared_numel=10**12)
    with pytest.raises(CheckpointError, match="declares 1000000000000 elements"):
        read_state_dict(path)


# -- loading into zoo models -------------------------------------------------------------


@pytest.mark.parametrize(
    "name,step,stem",
    [
        ("ab_reactnet18", 2, "cifar"),
        ("ab_reactneta", 1, "imagenet"),
        ("bnfree_reactnet18", 2, "imagenet"),
        ("ab_biresnet18", 2, "cifar"),
        ("bn_reactnet18", 2, "imagenet"),
        ("bn_reactneta", 1, "cifar"),
    ],
)
def test_checkpoint_round_trip_fills_every_variable(tmp_path, name, step, stem):
    model = zoo.get(name)(input_shape=(64, 64, 3), num_classes=10, stem=stem, step=step)
    state = _reference_state(model)
    path = tmp_path / "ckpt.h5"  # the paper's files are torch zips named .h5
    torch_format.save(state, path)
    report = load_official_checkpoint(model, path)
    assert report.tensors == len(model.weights) and report.parameters == model.count_params()
    assert report.stripped_prefix == "module."
    for key, entry in reference_entries(model).items():
        if entry.variable is None:  # BatchNorm's num_batches_tracked: read, not kept
            assert key.endswith(".num_batches_tracked")
            continue
        np.testing.assert_array_equal(
            entry.to_reference(entry.variable.numpy()), state["module." + key]
        )
    # and the zoo's `weights=` takes the same file
    again = zoo.get(name)(
        input_shape=(64, 64, 3), num_classes=10, stem=stem, step=step, weights=str(path)
    )
    for a, b in zip(again.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mismatches_are_listed_in_one_error_and_nothing_is_loaded():
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10)
    before = [w.numpy().copy() for w in model.weights]
    state = _reference_state(
        zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=100)
    )  # another dataset's head
    del state["module.layer3.1.move0.bias"]
    state["module.layer9.0.extra.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(CheckpointError) as error:
        load_official_checkpoint(model, state)
    message = str(error.value)
    assert "does not fit model 'ab_reactnet18'" in message
    assert (
        "missing keys, with the expected shape (1):\n    layer3.1.move0.bias (1, 256, 1, 1)"
        in message
    )
    assert "unexpected keys, with the found shape (1):\n    layer9.0.extra.weight (3, 3)" in message
    assert "fc.weight expected (10, 512), found (100, 512)" in message
    assert "fc.bias expected (10,), found (100,)" in message
    for w, b in zip(model.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


def test_another_architecture_is_refused_and_nan_weights_too():
    model = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    with pytest.raises(CheckpointError, match=r"downsample.0.weight \(128, 64, 1, 1\)"):
        load_official_checkpoint(
            model, _reference_state(zoo.ABBiResNet18(input_shape=(32, 32, 3), num_classes=10))
        )
    state = _reference_state(model)
    state["module.layer1.0.conv1.gain"][3] = np.nan
    with pytest.raises(
        CheckpointError, match="NaN or infinite values \\(1\\):\n    layer1.0.conv1.gain"
    ):
        load_official_checkpoint(model, state)


def test_imported_block_equals_the_paper_computed_by_hand_in_numpy(float64):
    """One stride-2 A&B ReActNet-18 block (symmetric padding, pooled binary shortcut),
    from the state dict, in numpy float64."""
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10)
    state = _reference_state(model, prefix="")
    load_official_checkpoint(model, state)
    probe = tf.keras.Model(
        model.input,
        [model.get_layer("layer1.3.move2").output, model.get_layer("layer2.0.move2").output],
    )
    x_in, ours = (t.numpy() for t in probe(np.random.default_rng(1).normal(size=(2, 32, 32, 3))))
    sd = {k: v.astype(np.float64) for k, v in state.items()}
    hwio = lambda w: np.transpose(w, (2, 3, 1, 0))  # noqa: E731
    vec = lambda b: b.reshape(-1)  # noqa: E731

    def binary_kernel(key):
        w_hat = np_scaled_std(hwio(sd[key + ".weight"]))
        return vec(sd[key + ".gain"]) * np.abs(w_hat).mean(axis=(0, 1, 2)) * np_sign(w_hat)

    beta, alpha = 0.917662935482247, 0.25
    h = np_sign(beta * (x_in + vec(sd["layer2.0.move0.bias"]) / beta))
    y = np_conv2d(h, binary_kernel("layer2.0.conv1"), 2, ((1, 1), (1, 1)))
    pooled = x_in.reshape(2, 16, 2, 16, 2, 64).mean(axis=(2, 4))
    r = np_conv2d(pooled, binary_kernel("layer2.0.downsample.1"))
    out = alpha * y + r + vec(sd["layer2.0.move1.bias"])
    slopes = 2.0 ** np.round(sd["layer2.0.prelu.L_alpha"])
    out = np.where(out > 0, out, slopes * out) + vec(sd["layer2.0.move2.bias"])
    np.testing.assert_allclose(ours, out, rtol=1e-12, atol=1e-12)


# -- abbnn import-torch ------------------------------------------------------------------


def test_import_torch_command_writes_a_keras_model(tmp_path):
    source = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    state = _reference_state(source)
    torch_format.save(state, tmp_path / "xnor.h5")
    out = tmp_path / "out" / "xnor.keras"
    result = run_abbnn(
        "import-torch",
        str(tmp_path / "xnor.h5"),
        "--model",
        "ab_xnornet18",
        "--dataset",
        "cifar10",
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded 44 tensors, 11,169,738 parameters" in result.stdout
    model = tf.keras.models.load_model(out)
    load_official_checkpoint(source, state)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), source.predict(x, verbose=0))


def test_import_torch_refuses_a_mismatch_in_one_line_and_writes_nothing(tmp_path):
    torch_format.save(
        _reference_state(zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)),
        tmp_path / "x.h5",
    )
    out = tmp_path / "model.keras"
    result = run_abbnn(
        "import-torch",
        str(tmp_path / "x.h5"),
        "--model",
        "ab_xnornet18",
        "--dataset",
        "imagenet",
        "-o",
        str(out),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "does not fit model 'ab_xnornet18'" in result.stderr
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".import-")]
