import argparse
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import image_folder, run_abbnn

from abbnn import cli, recipe
from abbnn.cli import native_logs


def _subcommands(parser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_help_imports_no_tensorflow():
    """`abbnn --help` and every `abbnn CMD --help` build the whole parser without loading
    TensorFlow or larq_abbnn (TensorFlow alone takes about 4 s to import)."""
    code = (
        "import sys\n"
        "from abbnn import cli\n"
        "for argv in (['--help'], *[[c, '--help'] for c in cli.COMMANDS]):\n"
        "    try:\n"
        "        cli.main([a.replace('_', '-') for a in argv])\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, argv\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'larq_abbnn', 'larq', 'numpy')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_every_option_has_help_and_help_shows_the_defaults():
    parser = cli.build_parser()
    for name, command in _subcommands(parser).items():
        for action in command._actions:
            assert action.help, f"abbnn {name} {action.option_strings or action.dest}: no help"
    train_help = _subcommands(parser)["train"].format_help()
    assert f"(default: {recipe.EPOCHS})" in train_help
    assert f"(default: {recipe.LEARNING_RATE})" in train_help
    assert "(default: cifar10)" in train_help
    assert "(default: None)" not in train_help  # options without one say what happens
    for name, command in _subcommands(parser).items():
        for action in command._actions:
            shown = command._get_formatter()._get_help_string(action) or ""
            assert shown.count("(default:") <= 1, f"abbnn {name} {action.option_strings}: {shown}"


def test_global_options_are_accepted_after_the_subcommand():
    parser = cli.build_parser()
    assert parser.parse_args(["summary", "ab_reactnet18", "--debug"]).debug is True
    assert parser.parse_args(["--debug", "summary", "ab_reactnet18"]).debug is True
    assert parser.parse_args(["summary", "ab_reactnet18"]).debug is False


def _native_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if native_logs.is_native(line.encode())]


def test_tensorflow_start_up_logs_are_silenced_unless_debug():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "from abbnn import cli; import sys; sys.exit(cli.main(sys.argv[1:]))"
    args = ["audit", "zoo:ab_xnornet18", "--input-shape", "32,32,3", "--num-classes", "10"]
    quiet = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0, quiet.stderr
    assert not _native_lines(quiet.stderr), quiet.stderr
    for noise in ("tensorflow/core", "oneDNN", "absl::InitializeLog", "cuda"):
        assert noise not in quiet.stderr, quiet.stderr
    if _tensorflow_logs_at_start_up(env):  # TensorFlow builds without a start-up log exist
        loud = subprocess.run(
            [sys.executable, "-c", code, *args, "--debug"], capture_output=True, text=True, env=env
        )
        assert loud.returncode == 0 and _native_lines(loud.stderr), loud.stderr


def test_keras_warnings_about_its_internals_are_silenced_unless_debug():
    """Keras's slow-callback warning broke the progress bar's line; the loaded-model
    warning is about metrics nobody asked for. Both go through the `tensorflow` logger."""
    code = (
        "import sys; from abbnn import cli; cli._prepare_tensorflow('--debug' in sys.argv)\n"
        "import tensorflow as tf\n"
        "tf.get_logger().warning('Callback method `on_train_batch_end` is slow')\n"
        "tf.get_logger().error('an error shows')\n"
    )
    for debug, shown in ((False, ["an error shows"]), (True, ["is slow", "an error shows"])):
        args = [sys.executable, "-c", code] + (["--debug"] if debug else [])
        result = subprocess.run(args, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stderr.splitlines() if not _native_lines(line)]
        assert [any(s in line for line in lines) for s in shown] == [True] * len(shown)
        assert debug or "is slow" not in result.stderr, result.stderr


def test_a_tiny_real_train_and_convert_write_nothing_to_stderr(tmp_path):
    """What a user sees of `train` and `convert` (here on every supported TensorFlow: this
    file is in the compatibility subset): their own output on stdout, nothing on stderr."""
    images = image_folder(tmp_path / "images", per_class=6)
    out = tmp_path / "run"
    trained = run_abbnn(
        "train", "--dataset", images, "--step", "1", "--epochs", "1", "--steps-per-epoch", "1",
        "--width-multiplier", "0.125", "--batch-size", "8", "--output", out, as_user=True,
    )  # fmt: skip
    assert trained.returncode == 0 and trained.stderr == "", trained.stderr
    assert "step 1: binary activations, real weights; 1 epoch" in trained.stdout
    tflite = out / "step1" / "best.tflite"
    converted = run_abbnn("convert", out / "step1" / "best.keras", "-o", tflite, as_user=True)
    # only what is said to the user: a step-1 model has no binary convolution (the trial
    # converted one to a full-precision file with nothing said)
    assert converted.returncode == 0, converted.stderr
    assert converted.stderr == (
        f"abbnn convert: warning: {tflite} has no binary convolution: the model computes in "
        "full precision (a step-1 model has real weights; convert the step-2 model of a run, "
        "RUN/step2/best.keras)\n"
    )
    assert "binary convs: 0\n" in converted.stdout


def _tensorflow_logs_at_start_up(env) -> bool:
    result = subprocess.run(
        [sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, env=env
    )
    return bool(_native_lines(result.stderr))


@pytest.mark.parametrize(
    "line,native",
    [
        ("I0000 00:00:1796123704.819170    3888 port.cc:153] oneDNN custom operations", True),
        ("E0000 00:00:1796123707.001146    3888 cuda_platform.cc:52] failed call to cuInit", True),
        ("W1201 10:02:03.123456  1234 loader.cc:12] something", True),
        ("2026-12-01 11:14:50.005163: I tensorflow/core/util/port.cc:113] oneDNN custom", True),
        ("WARNING: All log messages before absl::InitializeLog() is called are written", True),
        ("To enable the following instructions: AVX2 FMA, in other operations, rebuild "
         "TensorFlow with the appropriate compiler flags.", True),
        ("F0000 00:00:1796123707.001146    3888 check.cc:52] Check failed: x", False),
        ("abbnn train: error: image folder not found: nope", False),
        ("Epoch 1/2", False),
        ("I really mean it", False),
        ("Improper call to JPEG library in state 201", True),  # libjpeg, before our error
        ("Corrupt JPEG data: 12 extraneous bytes before marker 0xd9", True),
        ("Premature end of JPEG file", True),
    ],
)  # fmt: skip
def test_native_log_lines_are_told_from_everything_else(line, native):
    assert native_logs.is_native(line.encode()) is native


FILTERED = r"""
import os, sys, time
from abbnn.cli import native_logs
native_logs.hide()
os.write(2, b"I0000 00:00:1796123704.819170    3888 port.cc:153] oneDNN custom operations\n")
print("python says", file=sys.stderr, flush=True)
os.write(2, b"\r 10%|#   |")
time.sleep(0.5)
print(open(sys.argv[1], "rb").read().decode(), end="", flush=True)  # the bar, not held
os.write(2, b"\r100%|####|\n")
os.write(2, b"2026-12-01 11:14:50.005163: I tensorflow/core/util/port.cc:113] oneDNN\n")
os.write(2, b"F0000 00:00:1796123707.001146    3888 check.cc:52] Check failed\n")
"""


def test_the_filter_drops_native_lines_and_passes_the_rest_in_order(tmp_path):
    err = tmp_path / "stderr"
    with open(err, "wb") as stderr:
        result = subprocess.run(
            [sys.executable, "-c", FILTERED, str(err)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            timeout=60,
        )
    assert result.returncode == 0
    assert result.stdout == b"python says\n\r 10%|#   |"  # passed on before its newline
    assert err.read_bytes() == (
        b"python says\n\r 10%|#   |\r100%|####|\n"
        b"F0000 00:00:1796123707.001146    3888 check.cc:52] Check failed\n"
    )


def test_help_lists_the_commands():
    result = run_abbnn("--help")
    assert result.returncode == 0
    assert "summary" in result.stdout and "demo" in result.stdout


def test_version_has_one_source():
    import importlib.metadata

    import abbnn
    import larq_abbnn

    result = run_abbnn("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"abbnn {abbnn.__version__}"
    assert larq_abbnn.__version__ == abbnn.__version__
    assert importlib.metadata.version("larq-abbnn") == abbnn.__version__  # setup.py's


@pytest.mark.parametrize(
    "fake,message",
    [
        ("raise ImportError('no module')", 'pip install "larq-abbnn[tensorflow]" on a CPU'),
        ("__version__ = '2.16.1'", "found 2.16.1"),
    ],
)
def test_import_without_a_supported_tensorflow_says_what_to_install(tmp_path, fake, message):
    """TensorFlow comes through an extra: a missing or unsupported TensorFlow is named."""
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(fake + "\n")
    result = subprocess.run(
        [sys.executable, "-c", "import larq_abbnn"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_summary_prints_larq_model_stats_of_zoo_and_saved_models(tmp_path, abbnn):
    code, stdout, stderr = abbnn(
        "summary", "ab_xnornet18", "--input-shape", "32,32,3", "--num-classes", "10"
    )
    assert code == 0, stderr
    assert "layer4.3.conv1" in stdout and "Total params" in stdout
    # a trained file, as every other command takes it (the trial: refused)
    from larq_abbnn import zoo

    path = tmp_path / "xnor.keras"
    zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125).save(path)
    code, stdout, stderr = abbnn("summary", path)
    assert code == 0, stderr
    assert "layer4.3.conv1" in stdout and "Ratio of MACs that are binarized" in stdout
    code, _, stderr = abbnn("summary", "resnet50")
    assert code == 1
    assert stderr.startswith(
        "abbnn summary: error: model not found: resnet50 is no file or folder, nor zoo:NAME "
        "with NAME one of ab_biresnet18, "
    )


def test_bad_arguments_exit_2_with_usage():
    result = run_abbnn("summary", "ab_reactnet18", "--input-shape", "32,32")
    assert result.returncode == 2 and "expected H,W,C" in result.stderr


def test_runtime_errors_are_one_line_without_traceback(tmp_path, abbnn):
    result = run_abbnn("demo", "--images", str(tmp_path / "nowhere"))  # the real process
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"abbnn demo: error: image folder not found: {tmp_path / 'nowhere'}"
    )
    assert "Traceback" not in result.stderr
    code, _, stderr = abbnn("summary", "ab_reactnet18", "--input-shape", "208,208,3")
    assert code == 1 and "Traceback" not in stderr
    assert "layer4.0 gets a 13x13 feature map" in stderr


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
    # the loss with what to read it against (the trial: a lone 7.773 read as divergence)
    assert "on the first batch, " in result.stdout and "(chance: ln 2 = 0.693)" in result.stdout
    # the latency of the kernel every other command uses, named (the trial: another's)
    from larq_abbnn.analysis.kernels import default_kernel

    assert f"(LCE interpreter, {default_kernel()} kernel as abbnn benchmark's default" in (
        result.stdout
    )
    assert (tmp_path / "run" / "model.tflite").stat().st_size > 100_000
    assert not [p for p in os.listdir(tmp_path / "run") if p.endswith(".tmp")]
