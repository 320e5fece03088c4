import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from abbnn import stack

stack.select()  # before TensorFlow's first import; subprocesses inherit it
import tensorflow as tf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: FINN's venv's Python (tools/make_finn_venv.sh; CI sets $ABBNN_FINN_PYTHON): FINN's side
#: runs there, as a user runs it (tests/test_finn.py, the FPGA guide's commands)
FINN_PYTHON = os.environ.get("ABBNN_FINN_PYTHON") or str(REPO / ".venv-finn" / "bin" / "python")
DATA = Path(__file__).resolve().parent / "data"
#: `abbnn` with ReActNet-18 at one block per stage (tests/small_cli.py), for the command
#: line's mechanisms
SMALL_ABBNN = [sys.executable, str(Path(__file__).resolve().parent / "small_cli.py")]


@pytest.fixture
def float64():
    """Build and run in float64, where equivalence tests are exact."""
    previous = tf.keras.backend.floatx()
    tf.keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        tf.keras.backend.set_floatx(previous)
        tf.keras.backend.clear_session()


@pytest.fixture(scope="module")
def small_tflite() -> bytes:
    """`networks.small()` (ReActNet-18's blocks, one per stage) converted by LCE: a real
    file to read, damage and time."""
    import networks

    from larq_abbnn.converters import convert

    return convert(networks.small())


@pytest.fixture(scope="session")
def reference_state_dicts():
    """Keys, shapes and trainable parameter counts of every released configuration,
    listed from the authors' networks by tools/make_reference_fixtures.py."""
    return json.loads((DATA / "reference_state_dicts.json").read_text())


@pytest.fixture(scope="session")
def reference_blocks():
    """Every block's alpha, beta(s) and stride in the authors' networks (same script)."""
    return json.loads((DATA / "reference_blocks.json").read_text())


def np_conv2d(x, w, stride=1, pads=((0, 0), (0, 0)), pad_value=0.0):
    """NHWC x HWIO convolution in numpy (float64): the reference for conv layers."""
    x = np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=pad_value)
    kh, kw = w.shape[:2]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (N, Ho, Wo, C, kh, kw)
    return np.einsum("nhwcij,ijco->nhwo", windows, w)


def np_scaled_std(w, eps=1e-5):
    """Scaled weight standardization of a kernel (HWIO, or any rank), per output channel."""
    fan_in = np.prod(w.shape[:-1])
    axes = tuple(range(w.ndim - 1))
    mean = w.mean(axis=axes, keepdims=True)
    std = w.std(axis=axes, keepdims=True)  # population std
    return fan_in**-0.5 * (w - mean) / (std + eps)


def np_sign(x):
    """Larq's sign: 0 maps to +1."""
    return np.where(x >= 0, 1.0, -1.0)


def image_folder(root, classes=3, per_class=12) -> str:
    """`classes` x `per_class` 32 px PNGs in root/c<k>/, whose classes differ in brightness
    (learnable in a few steps), as `folder:ROOT`."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(root / f"c{c}")
        for i in range(per_class):
            pixels = np.clip(rng.normal(60 + 60 * c, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
            (root / f"c{c}" / f"{i:02d}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return f"folder:{root}"


def run_abbnn(*args, timeout=900, as_user=False, small=False):
    """The `abbnn` command in a subprocess. With `as_user`, in the environment a user has
    (no TF_CPP_MIN_LOG_LEVEL: what abbnn itself silences is tested), otherwise with
    TensorFlow's C++ logs off. With `small`, `SMALL_ABBNN`."""
    env = dict(os.environ)
    if as_user:
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    else:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.run(
        [*(SMALL_ABBNN if small else [sys.executable, "-m", "abbnn.cli"]), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def small_zoo(monkeypatch):
    """`zoo.get("ab_reactnet18")` builds ReActNet-18 at one block per stage (as
    `SMALL_ABBNN`), for in-process commands whose claim is not the network."""
    import networks

    from larq_abbnn import zoo

    monkeypatch.setitem(zoo.MODELS, "ab_reactnet18", networks.ab_reactnet18_one_block_per_stage)


@pytest.fixture
def abbnn(capsys, monkeypatch):
    """`abbnn ARGS` in this process (TensorFlow is loaded already): (code, stdout, stderr).
    Without the CLI's start-up (its stderr filter would take this process's fd 2)."""
    from abbnn import cli

    monkeypatch.setattr(cli, "_prepare_tensorflow", lambda debug: None)

    def run(*args):
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
