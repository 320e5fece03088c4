"""The FINN path (issue 34): a QONNX file written by `abbnn convert --pad-binary-with-ones`
through FINN's front end to hardware layers, executed and costed by `python -m abbnn.finn`
in FINN's own venv.

FINN needs numpy >= 2.4.6 beside Larq's < 2, so it has a venv of its own
(`tools/make_finn_venv.sh`), found as `$ABBNN_FINN_PYTHON` or `.venv-finn/bin/python`.
CI builds it (`.ci/run`); where it is absent, the tests that run FINN are skipped, saying
so. The Keras side (the model, its logits) runs here, FINN's side in a subprocess.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import FINN_PYTHON, REPO
from networks import small

from larq_abbnn import zoo
from larq_abbnn.analysis.synthetic import trained_looking

pytest.importorskip("qonnx", reason='the [onnx] extra: pip install -e ".[onnx]"')

needs_finn = pytest.mark.skipif(
    not os.path.exists(FINN_PYTHON),
    reason=f"no FINN venv at {FINN_PYTHON}: tools/make_finn_venv.sh (or $ABBNN_FINN_PYTHON)",
)


def _finn(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FINN_PYTHON, "-m", "abbnn.finn", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _convert(abbnn, model, folder: Path, *flags) -> Path:
    """`abbnn convert` of `model` (saved first) to a QONNX file, as a user runs it."""
    saved, onnx_file = folder / "model.keras", folder / "model.onnx"
    model.save(saved)
    code, _, err = abbnn("convert", saved, "-o", onnx_file, *flags)
    assert code == 0, err
    return onnx_file


def test_the_finn_side_imports_neither_tensorflow_nor_larq_abbnn():
    """FINN's venv has neither: an import of them in abbnn.finn would fail only there."""
    forbidden = ("tensorflow", "tf_keras", "keras", "larq", "larq_abbnn", "abbnn.cli")
    for path in sorted((REPO / "abbnn" / "finn").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden) or name.startswith("abbnn.finn"), (
                    f"{path.name} imports {name}"
                )


@needs_finn
def test_ab_reactnet18_through_finn_every_binary_conv_an_xnor_mvau_agreeing_with_keras(
    abbnn, tmp_path
):
    """The whole A&B ReActNet-18 at the CIFAR stem, width 0.25, trained-looking weights:
    16 of 16 binary convs become XNOR-popcount MVAUs (with their sliding-window
    generators), FINN's execution agrees with Keras on every argmax and within float32
    rounding (its MVAUs count exactly; measured 4.7e-7 of the logit scale), and FINN's
    estimates cost the hardware layers. The Muls FINN leaves are the binary and shortcut
    convs' scales: 137,216 products a frame, the audit's binary-conv scalings."""
    model = trained_looking(
        zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    )
    onnx_file = _convert(abbnn, model, tmp_path, "--pad-binary-with-ones")
    images = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "keras.npy", model.predict(images, verbose=0))
    run = _finn(onnx_file, "--images", "images.npy", "--reference", "keras.npy", "-o", "out",
                cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "binary convs as XNOR-popcount MVAUs: 16 of 16" in run.stdout
    report = json.loads((tmp_path / "out" / "finn_report.json").read_text())
    assert report["hardware_layers"] == {"MVAU": 16, "ConvolutionInputGenerator": 16}
    keras = report["agreement_with_reference"]
    assert keras["argmax_agreement"] == 16 and keras["max_relative_difference"] < 1e-5
    assert report["agreement_with_file"]["max_relative_difference"] < 1e-5
    assert report["totals"]["LUT"] > 0 and report["totals"]["BRAM_18K"] > 0
    assert len(report["estimates"]) == 32
    assert report["multiplications_outside_finn"]["other"] == {"nodes": 19, "per_frame": 137_216}
    assert (tmp_path / "out" / "hw_layers.onnx").stat().st_size > 0


@needs_finn
def test_with_power_of_two_scales_finn_leaves_no_multiplier(abbnn, tmp_path):
    """Every Mul FINN leaves multiplies by signed powers of two (shifts in hardware)."""
    onnx_file = _convert(abbnn, small(power_of_two_scales=True), tmp_path, "--pad-binary-with-ones")
    run = _finn(onnx_file, "--inputs", 2, "-o", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out" / "finn_report.json").read_text())
    assert report["xnor_mvaus"] == report["binary_convs"] == 4
    assert report["multiplications_outside_finn"]["other"] == {"nodes": 0, "per_frame": 0}
    assert report["multiplications_outside_finn"]["powers of two"]["nodes"] > 0
    assert report["agreement_with_file"]["argmax_agreement"] == 2


@needs_finn
def test_a_file_with_zero_padded_binary_convs_is_refused_naming_the_flag(abbnn, tmp_path):
    onnx_file = _convert(abbnn, small(), tmp_path)
    run = _finn(onnx_file, cwd=tmp_path)
    assert run.returncode == 1
    assert (
        "binary conv layer1.0.conv1/conv (and 3 more) pads its +-1 input with zeros" in run.stderr
    )
    assert "--pad-binary-with-ones" in run.stderr
