import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_abbnn

from larq_abbnn import cli, zoo
from larq_abbnn.benchmark import KERNELS


def test_cli_choices_are_the_package_names():
    assert sorted(cli.MODEL_NAMES) == sorted(zoo.MODELS)
    assert cli.KERNEL_NAMES == tuple(KERNELS)


def test_help_lists_the_commands():
    result = run_abbnn("--help")
    assert result.returncode == 0
    assert "summary" in result.stdout and "demo" in result.stdout


def test_version_has_one_source():
    import importlib.metadata

    import larq_abbnn

    result = run_abbnn("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"abbnn {larq_abbnn.__version__}"
    assert importlib.metadata.version("larq-abbnn") == larq_abbnn.__version__  # setup.py's


@pytest.mark.parametrize(
    "fake,message",
    [
        ("raise ImportError('no module')", 'pip install "larq-abbnn[tensorflow]" on a CPU'),
        ("__version__ = '2.16.1'", "found 2.16.1"),
    ],
)
def test_import_without_tensorflow_215_says_what_to_install(tmp_path, fake, message):
    """TensorFlow comes through an extra: a missing or Keras-3 TensorFlow is named."""
    import subprocess
    import sys

    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(fake + "\n")
    result = subprocess.run(
        [sys.executable, "-c", "import larq_abbnn"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_summary_prints_larq_model_stats():
    result = run_abbnn("summary", "ab_xnornet18", "--input-shape", "32,32,3", "--num-classes", "10")
    assert result.returncode == 0, result.stderr
    assert "layer4.3.conv1" in result.stdout and "Total params" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["summary", "resnet50"], "invalid choice: 'resnet50'"),
        (["summary", "ab_reactnet18", "--input-shape", "32,32"], "expected H,W,C"),
    ],
)
def test_bad_arguments_exit_2_with_usage(args, message):
    result = run_abbnn(*args)
    assert result.returncode == 2 and message in result.stderr


def test_runtime_errors_are_one_line_without_traceback(tmp_path):
    result = run_abbnn("demo", "--images", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"abbnn demo: error: image folder not found: {tmp_path / 'nowhere'}"
    )
    assert "Traceback" not in result.stderr
    bad_size = run_abbnn("summary", "ab_reactnet18", "--input-shape", "208,208,3")
    assert bad_size.returncode == 1 and "Traceback" not in bad_size.stderr
    assert "layer4.0 gets a 13x13 feature map" in bad_size.stderr


def test_demo_trains_converts_and_verifies_on_an_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        folder = tmp_path / "images" / "train" / label
        folder.mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            (folder / f"{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
    result = run_abbnn(
        "demo",
        "--model",
        "ab_xnornet18",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--images",
        str(tmp_path / "images"),
        "--output",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(2 classes)" in result.stdout
    assert "16 LceBconv2d of 16 binary convs" in result.stdout
    assert (tmp_path / "run" / "model.tflite").stat().st_size > 100_000
    assert not [p for p in os.listdir(tmp_path / "run") if p.endswith(".tmp")]
