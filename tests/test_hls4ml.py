"""hls4ml reads the channels-last QONNX form, and its C++ emulation (g++ only) computes
what Keras computes; `abbnn convert --format hls4ml` writes its project, and power-of-two
constants are shifts in its C++. Skipped without the [fpga] extra."""

import os
import re

import pytest

pytest.importorskip("hls4ml", reason='the [fpga] extra: pip install -e ".[fpga]"')

from networks import small  # noqa: E402

from larq_abbnn import zoo  # noqa: E402
from larq_abbnn.analysis import hls4ml_project  # noqa: E402
from larq_abbnn.analysis.synthetic import trained_looking  # noqa: E402
from larq_abbnn.converters import formats, to_hls4ml  # noqa: E402
from larq_abbnn.converters.hls4ml_flow import is_power_of_two  # noqa: E402


def test_convert_command_writes_a_verified_project_whose_only_multipliers_are_stem_and_head(
    abbnn, tmp_path
):
    """The whole A&B ReActNet-18 at the CIFAR stem, width 0.25, trained-looking weights,
    power-of-two scales: `abbnn convert --format hls4ml --verify --audit` writes the project,
    hls4ml's C++ emulation (g++, io_stream, fixed<48,24>: compiled in 60-100 s and 1 GB)
    agrees with Keras, and the C++ multiplies (`mult`) in the stem conv and the head alone:
    the binary convs' and shortcut convs' scales, the Q-PReLU slopes and their -1 flips are
    shifts. Measured with the paper's scales on 32 inputs: every argmax equal, the median
    input's logits within 3.9e-6 of the logit scale, one input's 3.7e-2 (a sign flipped
    by the rounding)."""
    model = trained_looking(
        zoo.ABReActNet18(
            input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25, power_of_two_scales=True
        )
    )
    model.save(tmp_path / "model.keras")
    project = tmp_path / "hls"
    code, out, err = abbnn(
        "convert", tmp_path / "model.keras", "--format", "hls4ml", "-o", project,
        "--verify", "--verify-samples", 16, "--audit",
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {project}: " in out and "(hls4ml)" in out
    assert "binary convs: 16" in out and "both_binary:           16 layers" in out
    multipliers = out.split("multiplier units (hls4ml's multiplier_limit): ")[1].splitlines()[0]
    assert multipliers == "1,712 in 2 layers: Conv2D_conv1 432, Dense_fc_matmul 1,280"
    verified = re.search(r"hls4ml \(C\+\+ emulation, g\+\+\) ([\d.]+)% / ([\d.]+)%", out)
    assert verified, out
    assert float(verified[1]) >= 50 and float(verified[2]) >= 15 / 16 * 100, verified[0]
    # the folder is the project as convert wrote it: named in its config, no build output
    config = (project / "hls4ml_config.yml").read_text()
    assert f"OutputDir: {project}\n" in config
    assert not list((project / "firmware").glob("*.so"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls", "model.keras"]  # no temporary
    # abbnn audit reads the folder alone: the same table
    code, audited, err = abbnn("audit", project)
    assert code == 0, err
    assert audited.strip() in out


def test_paper_scales_are_hls4ml_multipliers_and_slopes_shifts(tmp_path):
    """With the paper's scales (not powers of two), hls4ml multiplies by each binary conv's
    and each shortcut conv's scale (7 layers beside the stem and the head), while the
    Q-PReLU slopes, their -1 flips and the unit-scale moves are shifts (`to_hls4ml` and
    `formats.HLS4ML.save`, no compile). Saving into the same folder again replaces the
    earlier project."""
    hls_model = to_hls4ml(small())
    # without an output_dir, no folder is left behind (one empty folder per call, before)
    assert not os.path.exists(hls_model.config.get_output_dir())
    project = tmp_path / "hls"
    for _ in range(2):
        assert formats.HLS4ML.save(hls_model, project) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hls"]
    read = hls4ml_project.read(project)
    names = list(read.multipliers())
    assert names[0] == "Conv2D_conv1" and names[-1] == "Dense_fc_matmul"
    assert sorted(names[1:-1]) == sorted(
        [f"bn_layer1_{i}_conv1" for i in range(4)]
        + [f"bn_layer1_{i}_downsample_1" for i in range(1, 4)]
    )
    kinds = [layer.product for layer in read.layers]
    assert kinds.count("weight_exponential") == 16 and kinds.count("both_binary") == 4


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
    model = tmp_path / "never-loaded.keras"  # no model in it: the refusal comes first
    model.write_bytes(b"")
    code, _, err = abbnn("convert", model, "-o", output, *arguments)
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
