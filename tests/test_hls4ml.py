"""hls4ml reads the channels-last QONNX form, and its C++ emulation (g++ only) computes
what Keras computes; `abbnn convert --format hls4ml` writes its project, and power-of-two
constants are shifts in its C++. Skipped without the [fpga] extra."""

import numpy as np
import pytest

pytest.importorskip("hls4ml", reason='the [fpga] extra: pip install -e ".[fpga]"')

from networks import small  # noqa: E402

from larq_abbnn import zoo  # noqa: E402
from larq_abbnn.analysis.synthetic import trained_looking  # noqa: E402
from larq_abbnn.converters import to_hls4ml  # noqa: E402
from larq_abbnn.converters.hls4ml_flow import is_power_of_two  # noqa: E402


def test_hls4ml_emulation_of_ab_reactnet18_agrees_with_keras(tmp_path):
    """The whole A&B ReActNet-18 at the CIFAR stem, width 0.25 (compiled in 60-100 s and
    1 GB with io_stream), in to_hls4ml's default fixed<48,24>. Measured on 32 inputs:
    every argmax equal, the median input's logits within 3.9e-6 of the logit scale; one
    input's 3.7e-2, a sign flipped by the rounding (the first 16: all within 4.3e-6)."""
    model = trained_looking(
        zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    )
    hls_model = to_hls4ml(model, tmp_path / "hls")
    kinds = [layer.class_name for layer in hls_model.get_layers()]
    assert kinds.count("Conv2D") == 17 and kinds.count("PointwiseConv2D") == 3
    hls_model.compile()
    x = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype(np.float32)
    ours = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    keras = model.predict(x, verbose=0)
    relative = np.abs(ours - keras).max(axis=-1) / np.abs(keras).max()
    assert np.mean(ours.argmax(-1) == keras.argmax(-1)) >= 15 / 16
    assert np.median(relative) < 1e-4


@pytest.fixture(scope="module")
def saved_small(tmp_path_factory):
    """A small A&B network (4 binary convs) saved twice: with the paper's binary-conv
    scales and with power-of-two scales."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, power_of_two in (("paper", False), ("pow2", True)):
        paths[name] = folder / f"{name}.keras"
        small(power_of_two_scales=power_of_two).save(paths[name])
    return paths


def test_convert_command_writes_a_verified_hls4ml_project_whose_only_multipliers_are_stem_and_head(
    abbnn, saved_small, tmp_path
):
    """`abbnn convert --format hls4ml --verify --audit`: the project folder, hls4ml's C++
    emulation agreeing with Keras (compiled with g++ in a build folder of its own), and,
    with power-of-two scales, a `mult` product in the stem conv and the head alone: the
    binary convs' scales, the Q-PReLU slopes and their -1 flips are shifts."""
    project = tmp_path / "hls"
    code, out, err = abbnn(
        "convert", saved_small["pow2"], "--format", "hls4ml", "-o", project,
        "--verify", "--verify-samples", 16, "--audit",
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {project}: " in out and "(hls4ml)" in out
    assert "binary convs: 4" in out
    assert "both_binary:            4 layers" in out
    assert "multiplier units (hls4ml's multiplier_limit): 1,712 in 2 layers: Conv2D_conv1 432, " \
        "Dense_fc_matmul 1,280" in out  # fmt: skip
    verify_line = next(line for line in out.splitlines() if line.startswith("verify: "))
    assert "hls4ml (C++ emulation, g++) 100.0% / 100.0%" in verify_line, verify_line
    # the folder is the project as convert wrote it: named in its config, no build output
    config = (project / "hls4ml_config.yml").read_text()
    assert f"OutputDir: {project}\n" in config
    assert not list((project / "firmware").glob("*.so"))
    assert [p.name for p in tmp_path.iterdir()] == ["hls"]  # no temporary left beside it
    # abbnn audit reads the folder alone: the same table
    code, audited, err = abbnn("audit", project)
    assert code == 0, err
    assert audited.strip() in out


def test_paper_scales_are_hls4ml_multipliers_and_slopes_shifts(abbnn, saved_small, tmp_path):
    """With the paper's scales (not powers of two), hls4ml multiplies by each binary conv's
    and each shortcut conv's scale (7 layers beside the stem and the head), while the
    Q-PReLU slopes, their -1 flips and the unit-scale moves are shifts. A second convert
    into the same folder replaces the earlier project."""
    project = tmp_path / "hls"
    for _ in range(2):
        code, out, err = abbnn(
            "convert", saved_small["paper"], "--format", "hls4ml", "-o", project, "--audit"
        )
        assert code == 0, err
    multiplying = out.split("in 9 layers: ")[1].splitlines()[0]
    names = [entry.rsplit(" ", 1)[0] for entry in multiplying.split(", ")]
    assert names[0] == "Conv2D_conv1" and names[-1] == "Dense_fc_matmul"
    assert sorted(names[1:-1]) == sorted(
        [f"bn_layer1_{i}_conv1" for i in range(4)]
        + [f"bn_layer1_{i}_downsample_1" for i in range(1, 4)]
    )
    assert "weight_exponential:    16 layers" in out


@pytest.mark.parametrize(
    "output, arguments, message",
    [
        ("hls", ["--format", "hls4ml", "--input-pixels", "uint8"], "hls4ml takes normalized"),
        ("m.onnx", ["--hls4ml-io-type", "io_parallel"], "--hls4ml-io-type: only with --format hls4ml"),
        ("m.tflite", ["--format", "qonnx"], "qonnx writes a .onnx file; the name must end in .onnx"),
        ("hls", [], "hls: the file name must end in .tflite or .onnx (the format follows the "
                    "suffix; --format hls4ml writes a project folder)"),
    ],
)  # fmt: skip
def test_convert_refuses_what_its_format_cannot_take_before_loading(
    abbnn, tmp_path, output, arguments, message
):
    output = tmp_path / output
    code, _, err = abbnn("convert", "no-such-model.keras", "-o", output, *arguments)
    assert code == 1 and message in err, err
    assert not output.exists()


def test_convert_does_not_write_a_project_over_a_folder_of_other_files(abbnn, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = abbnn("convert", "zoo:ab_reactnet18", "--format", "hls4ml", "-o", tmp_path)
    assert code == 1 and "holds other files" in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_audit_of_a_folder_that_is_no_project_says_so(tmp_path):
    from larq_abbnn.analysis import hls4ml_project

    with pytest.raises(
        ValueError, match="is not an hls4ml project: it has no firmware/parameters.h"
    ):
        hls4ml_project.read(tmp_path)


def test_power_of_two_test_takes_signed_powers_and_nothing_else():
    assert is_power_of_two([1.0, -1.0, 0.25, -8.0, 2.0**-40])
    assert not is_power_of_two([1.0, 0.75])
    assert not is_power_of_two([1.0, 0.0])
    assert not is_power_of_two([2.0**200])  # beyond the exponent's 8 bits
    assert not is_power_of_two([])
