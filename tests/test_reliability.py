"""Promises under inputs nobody planned for: random networks, hostile files, killed jobs.

Hypothesis profiles: the default runs a few generated cases per property (seconds each);
`HYPOTHESIS_PROFILE=nightly python -m pytest tests/test_reliability.py` runs hundreds.
"""

import io
import os
import signal
import subprocess
import sys
import time
import zipfile

import networks
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_abbnn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from larq_abbnn import layers
from larq_abbnn.analysis import count_multiplications
from larq_abbnn.analysis.tflite_file import check_model, op_counts
from larq_abbnn.checkpoints import CheckpointError, load_official_checkpoint, read_state_dict
from larq_abbnn.converters import convert, fold
from larq_abbnn.zoo import ABReActNet18

settings.register_profile(
    "default", max_examples=4, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "nightly", max_examples=200, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = os.path.join(os.path.dirname(__file__), "data")


# -- random A&B and BN-Free networks ------------------------------------------------------


@st.composite
def network_specs(draw):
    """Family, block type, 1-4 blocks (each: width x1 or x2, stride 1 or 2, betas),
    alpha (a power of two for A&B), step, padding and a weight seed."""
    family = draw(st.sampled_from(["ab", "bnfree"]))
    kind = draw(st.sampled_from(["resnet", "reactnet_a"]))
    size, blocks = 16, []
    for _ in range(draw(st.integers(1, 4))):
        stride = draw(st.sampled_from([1, 2])) if size > 2 else 1
        size //= stride
        # a ResNet block widens only where it strides (its pooled shortcut needs both)
        widen = stride == 2 or kind == "reactnet_a"
        blocks.append(
            (
                draw(st.sampled_from([1, 2])) if widen else 1,
                stride,
                draw(st.floats(0.5, 1.5)),
                draw(st.floats(0.5, 1.5)),
            )
        )
    return {
        "family": family,
        "kind": kind,
        "stem_width": draw(st.sampled_from([8, 16, 32])),
        "blocks": blocks,
        "alpha": 2.0 ** -draw(st.integers(1, 4)) if family == "ab" else draw(st.floats(0.1, 0.5)),
        "step": draw(st.sampled_from([1, 2])),
        "padding": draw(st.sampled_from(["reference", "same", "one"])),
        "seed": draw(st.integers(0, 2**16)),
    }


INPUT_SIZE = 16


def build(spec):
    """A functional network from zoo blocks: stem conv, the drawn blocks, the zoo head."""
    options = {k: spec[k] for k in ("family", "kind", "stem_width", "blocks", "alpha", "step", "padding", "seed")}  # fmt: skip
    return networks.small(input_size=INPUT_SIZE, name="random_" + spec["family"], **options)


@given(network_specs())
def test_random_networks_fold_exactly_in_float64(spec):
    tf.keras.backend.set_floatx("float64")
    try:
        model = build(spec)
        x = np.random.default_rng(spec["seed"]).normal(size=(16, *model.input_shape[1:]))
        expected = model(x, training=False).numpy()
        folded = fold(model)(x, training=False).numpy()
    finally:
        tf.keras.backend.set_floatx("float32")
    # the README's claim: identical to 1e-12 relative to the largest logit
    assert np.abs(folded - expected).max() <= 1e-12 * np.abs(expected).max(), spec


@given(network_specs())
def test_random_networks_convert_agree_and_ab_has_no_multiplication(spec):
    model = build(spec)
    flatbuffer = convert(model)
    if spec["step"] == 2:
        assert op_counts(flatbuffer)["LceBconv2d"] == sum(
            1
            for layer in model.layers
            if isinstance(layer, layers.BinaryScaledStdConv2D) and layer.input_quantizer
        )
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    x = (
        np.random.default_rng(spec["seed"])
        .normal(size=(100, INPUT_SIZE, INPUT_SIZE, 3))
        .astype(np.float32)
    )
    keras = model.predict(x, verbose=0)
    tflite = Interpreter(flatbuffer, num_threads=2).predict(x)
    agreement = float(np.mean(keras.argmax(1) == np.asarray(tflite).argmax(1)))
    assert agreement >= 0.99, (agreement, spec)
    if spec["family"] == "ab" and spec["step"] == 2:  # step 1 keeps real weights, by design
        assert count_multiplications(model).full_precision == 0, spec
        assert count_multiplications(flatbuffer).full_precision == 0, spec


# -- hostile checkpoints ----------------------------------------------------------------

FIXTURE = os.path.join(DATA, "tiny_torch_checkpoint.pt")


def _expect_refused_or_read(path):
    """Reading may succeed on a harmless mutation; it may only fail as CheckpointError."""
    try:
        read_state_dict(path)
    except CheckpointError as error:
        assert str(path) in str(error)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzzed_checkpoints_are_refused_cleanly(tmp_path_factory, data):
    original = open(FIXTURE, "rb").read()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    path = tmp_path_factory.mktemp("fuzz") / "model.pt"
    path.write_bytes(bytes(mutated[:cut]))
    _expect_refused_or_read(path)


def _rezip(original, replace):
    """A copy of a torch.save zip with some members' bytes replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename.split("/")[-1], src.read(info)))
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(min_size=0, max_size=400))
def test_random_pickles_inside_a_valid_archive_are_refused(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("pickle") / "model.pt"
    path.write_bytes(_rezip(FIXTURE, {"data.pkl": payload}))
    marker = path.parent / "ran"
    _expect_refused_or_read(path)
    assert not marker.exists()


def test_duplicate_keys_in_a_pickle_are_refused(tmp_path):
    import pickle

    # OrderedDict whose SETITEMS sets "w" twice: the second would silently win
    payload = (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00wK\x01"
        b"X\x01\x00\x00\x00wK\x02u."
    )
    assert pickle.loads(payload) == {"w": 2}  # plain pickle: silently overwritten
    path = tmp_path / "dup.pt"
    path.write_bytes(_rezip(FIXTURE, {"data.pkl": payload}))
    with pytest.raises(CheckpointError, match="sets key 'w' twice"):
        read_state_dict(path)


def test_colliding_keys_in_a_mapping_leave_the_model_unchanged():
    model = ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(CheckpointError, match="collide"):
        load_official_checkpoint(model, {1: np.zeros(3), "1": np.ones(3)})
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- hostile TFLite files ----------------------------------------------------------------


def _repacked(flatbuffer, edit):
    """The flatbuffer unpacked, `edit(model)` applied to its object tree, packed again."""
    import flatbuffers
    from larq_compute_engine.mlir.python import tflite_schema

    model = tflite_schema.ModelT.InitFromObj(tflite_schema.Model.GetRootAsModel(flatbuffer, 0))
    edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _with_tensor_index(flatbuffer, index):
    """A valid flatbuffer whose first operator reads tensor `index` (out of range)."""

    def edit(model):
        operator = model.subgraphs[0].operators[0]
        operator.inputs = [index, *list(operator.inputs)[1:]]

    return _repacked(flatbuffer, edit)


def _renamed_custom_op(flatbuffer, old, new):
    def edit(model):
        for code in model.operatorCodes:
            if code.customCode == old:
                code.customCode = new

    return _repacked(flatbuffer, edit)


def _first_bconv_options_ending_in(flatbuffer, last_byte):
    """The first LceBconv2d's custom options (a flexbuffer) with another last byte: the
    root's byte width. 217 makes LCE 0.16's interpreter read out of bounds (SIGSEGV):
    found by fuzzing the options, one byte of four flipped, the others harmless."""

    def edit(model):
        operator = next(
            o
            for o in model.subgraphs[0].operators
            if model.operatorCodes[o.opcodeIndex].customCode == b"LceBconv2d"
        )
        operator.customOptions = [*list(operator.customOptions)[:-1], last_byte]

    return _repacked(flatbuffer, edit)


def test_out_of_range_tensor_indices_are_refused_everywhere(small_tflite, tmp_path):
    bad = _with_tensor_index(small_tflite, 10**6)
    with pytest.raises(ValueError, match="tensor 1000000"):
        check_model(bad)
    with pytest.raises(ValueError, match="tensor 1000000"):
        count_multiplications(bad)
    path = tmp_path / "bad.tflite"
    path.write_bytes(bad)
    for command in (["benchmark", str(path)], ["audit", str(path)]):
        result = run_abbnn(*command)
        assert result.returncode == 1, result.stderr
        assert "tensor 1000000" in result.stderr and "Traceback" not in result.stderr


def test_the_probe_runs_the_file_without_tensorflow_and_names_a_crash(small_tflite, tmp_path):
    """`read_tflite` runs a file once in a child process (a damaged file can crash TF
    Lite's C++ code): the child loads LCE's interpreter alone (3.6 s a file with
    TensorFlow), and its death by a signal or its error is named with the file. Real
    files, each read by `check_model` as whole: a custom op the interpreter has no kernel
    for, and one whose options crash it."""
    from larq_abbnn.analysis import tflite_file

    path = tmp_path / "m.tflite"
    path.write_bytes(small_tflite)
    assert tflite_file.read_tflite(path) == small_tflite
    no_tensorflow = tflite_file._PROBE + "\nassert 'tensorflow' not in sys.modules\n"
    child = subprocess.run([sys.executable, "-c", no_tensorflow, str(path)], capture_output=True)
    assert child.returncode == 0, child.stderr[-2000:]
    crashing = tmp_path / "crashing.tflite"
    crashing.write_bytes(_first_bconv_options_ending_in(small_tflite, 217))
    with pytest.raises(
        ValueError, match=r"crashing\.tflite: LCE's interpreter crashed loading it \(signal 11\)"
    ):
        tflite_file.read_tflite(crashing)
    unknown = tmp_path / "unknown.tflite"
    unknown.write_bytes(_renamed_custom_op(small_tflite, b"LceQuantize", b"LceNoSuchOp"))
    with pytest.raises(
        ValueError,
        match=r"unknown\.tflite: LCE's interpreter cannot run it: RuntimeError: .*"
        r"AllocateTensors",
    ):
        tflite_file.read_tflite(unknown)


FUZZ_FILES = 24
FUZZ_SCRIPT = """
import sys
from larq_abbnn.analysis.benchmark import measure
from larq_abbnn.analysis.tflite_file import read_tflite
from larq_abbnn.analysis import count_multiplications
ok = refused = 0
for path in sys.argv[1:]:
    try:
        data = read_tflite(path)
        count_multiplications(data)
        measure(data, runs=1, warmup=0)
        ok += 1
    except ValueError:
        refused += 1
print(ok, refused)
"""


def test_fuzzed_tflite_files_never_crash_the_process(small_tflite, tmp_path):
    """Random byte flips and cuts: each file is read, audited and run, or refused with a
    ValueError, in a child process whose death by a signal would fail the test."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(FUZZ_FILES):
        data = bytearray(small_tflite)
        if i % 3 == 0:
            data = data[: rng.integers(8, len(data))]
        else:
            for position in rng.integers(0, len(data), size=rng.integers(1, 6)):
                data[position] = rng.integers(0, 256)
        path = tmp_path / f"fuzz{i}.tflite"
        path.write_bytes(bytes(data))
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, "-c", FUZZ_SCRIPT, *paths], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    ok, refused = map(int, result.stdout.split()[-2:])
    assert ok + refused == FUZZ_FILES and refused > 0


# -- interrupted conversion ----------------------------------------------------------------


@pytest.mark.parametrize("delay", [2.0, 6.0, 9.0])
def test_killed_convert_leaves_no_partial_output(tmp_path, delay):
    out = tmp_path / "model.tflite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "abbnn.cli",
            "convert",
            "zoo:ab_reactnet18",
            "--input-shape",
            "64,64,3",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    finished = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if out.exists():  # only a finished, complete file may be there
        check_model(out.read_bytes())
    else:
        assert not finished
    # and at most the hidden temporary of a write the kill interrupted
    left = [p.name for p in tmp_path.iterdir() if p != out]
    assert all(n.startswith(".model.tflite.") and n.endswith(".tmp") for n in left), left


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    """As `open()` would (mkstemp's temporaries are 0600; history.csv was 0644 beside them)."""
    from larq_abbnn.files import atomic_path, atomic_write_bytes

    previous = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.json", b"{}")
        with atomic_path(tmp_path / "b.keras") as tmp:
            open(tmp, "wb").write(b"model")
    finally:
        os.umask(previous)
    for name in ("a.json", "b.keras"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("writer", ["bytes", "path"])
def test_the_next_write_removes_temporaries_a_killed_write_left(tmp_path, writer):
    from larq_abbnn import files

    out = tmp_path / "model.keras"
    leftovers = [tmp_path / ".model.keras.k1ll3d.tmp", tmp_path / ".model.keras.x9.tmp.keras"]
    for stale in leftovers:
        stale.write_bytes(b"partial")
    other = tmp_path / ".other.keras.k1ll3d.tmp"  # another target's: kept
    other.write_bytes(b"partial")
    if writer == "bytes":
        files.atomic_write_bytes(out, b"complete")
    else:
        with files.atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"complete")
    assert out.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "model.keras"]


# -- the command-line contract ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "nope.keras", "-o", "x.tflite"], "model not found: nope.keras"),
        (["audit", "nope.tflite"], "nope.tflite"),
        (["benchmark", "nope.tflite"], "TFLite file not found: nope.tflite"),
        (["benchmark", "best.tflit"], "TFLite file not found: best.tflit"),
        (["benchmark", "--parse-log", "nope.log"], "nope.log"),
        (
            [
                "import-torch",
                "nope.pt",
                "--model",
                "ab_reactnet18",
                "--dataset",
                "cifar10",
                "-o",
                "x.keras",
            ],
            "checkpoint not found: nope.pt",
        ),
        (["evaluate", "nope.tflite"], "model not found: nope.tflite"),
        (["train", "--dataset", "folder:nope"], "image folder not found: nope"),
        (["tune", "--dataset", "folder:nope"], "image folder not found: nope"),
        (["demo", "--images", "nope"], "image folder not found: nope"),
        (
            ["convert", "zoo:ab_reactnet18", "--input-shape", "80,80,3", "-o", "x.tflite"],
            "gets a 5x5 feature map",
        ),
        (["benchmark", "x.tflite", "--compare"], "--compare picks the reference models"),
        (["audit", "zoo:ab_xnornet18", "--energy-table", "nope.json"], "energy table not found"),
        (["train", "--dataset", "folder:.", "--init-from", "nope.h5"], "initial weights not"),
        (["train", "--dataset", "folder:.", "--teacher", "nope.keras"], "teacher model not"),
    ],
)
def test_every_subcommand_fails_in_one_line(args, message, tmp_path):
    """One line naming the problem, nothing written; a missing input or options that
    cannot go together are named before TensorFlow loads (the command's `check`)."""
    result = subprocess.run(
        [sys.executable, "-c", _REPORTS_TENSORFLOW, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=600,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("abbnn ")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.tflite").exists() and not (tmp_path / "x.keras").exists()
    needs_a_model = "feature map" in message  # the model is built to find it
    assert result.stdout == f"tensorflow loaded: {needs_a_model}\n"


#: `abbnn ARGS`, then whether TensorFlow was loaded
_REPORTS_TENSORFLOW = """
import sys
from abbnn import cli
try:
    code = cli.main(sys.argv[1:])
finally:
    print("tensorflow loaded:", "tensorflow" in sys.modules)
sys.exit(code)
"""


def test_an_unknown_option_is_named_by_the_command_it_was_given_to():
    """argparse reports a subcommand's unknown options as the top parser's (`abbnn: error`)."""
    result = run_abbnn("train", "--epochz", "3")
    assert result.returncode == 2
    assert result.stderr == (
        "abbnn train: error: unrecognized arguments: --epochz 3 (options: abbnn train --help)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "0"],
        ["benchmark", "--runs", "-1"],
        ["convert"],
        ["nonsense"],
        # non-finite values, refused as nan always was (inf trained a NaN epoch)
        ["train", "--lr", "inf"],
        ["train", "--lr", "nan"],
        ["train", "--weight-decay", "inf"],
        ["train", "--clip-factor", "-1"],
        ["tune", "--val-fraction", "1.5"],
        # absurd sizes (the trial: an overflow, and an accepted 10^12 epochs)
        ["train", "--width-multiplier", "1e300"],
        ["convert", "zoo:ab_reactnet18", "-o", "m.tflite", "--width-multiplier", "65"],
        ["train", "--epochs", "1000000000000"],
        ["tune", "--epochs", "100001"],
    ],
)
def test_bad_arguments_exit_2_with_one_line_naming_the_option(args):
    """One line, the option and its range, and where the options are listed; the usage
    block (18 lines for train) hid it."""
    result = run_abbnn(*args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("abbnn") and " error: " in result.stderr
    assert result.stderr.rstrip().endswith("--help)")
    option = next((a for a in args if a.startswith("--")), None)
    if option and args[-1] != "-1":
        assert f"argument {option}: expected " in result.stderr, result.stderr


# -- refusals that name the problem (in this process: TensorFlow is loaded once) ----------


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "m.keras", "--width-multiplier", "0.5", "-o", "x.tflite"],
         "--width-multiplier applies to zoo:NAME models only: m.keras is a saved model"),
        (["audit", "m.tflite", "--num-classes", "3", "--input-shape", "32,32,3"],
         "--input-shape, --num-classes apply to zoo:NAME models only: m.tflite"),
        (["benchmark", "m.tflite", "--input-shape", "32,32,3"],
         "--input-shape applies to zoo:NAME models only"),
    ],
)  # fmt: skip
def test_options_that_would_do_nothing_are_refused(abbnn, args, message):
    code, _, stderr = abbnn(*args)
    assert code == 1 and message in stderr, stderr


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("command", ["convert", "audit", "evaluate"])
def test_a_damaged_model_file_is_named(abbnn, tmp_path, suffix, command):
    damaged = tmp_path / f"model{suffix}"
    damaged.write_bytes(b"\x00not a model" * 10)
    extra = ["-o", tmp_path / "x.tflite"] if command == "convert" else []
    code, _, stderr = abbnn(command, damaged, *extra)
    assert code == 1
    assert f"{damaged} is not a Keras model file (.keras, .h5)" in stderr, stderr


def test_a_bad_energy_table_is_named(abbnn, tmp_path):
    table = tmp_path / "costs.json"
    table.write_text("pJ per op: 3.7")
    code, _, stderr = abbnn("audit", "zoo:ab_xnornet18", "--input-shape", "32,32,3",
                            "--width-multiplier", "0.125", "--energy-table", table)  # fmt: skip
    assert code == 1 and f"energy table {table} is not valid JSON" in stderr, stderr


def test_an_output_that_cannot_be_written_is_named_before_converting(abbnn, tmp_path, monkeypatch):
    from abbnn.cli import loaders

    monkeypatch.setattr(loaders, "load_model", lambda *a: pytest.fail("converted anyway"))
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, stderr = abbnn("convert", "zoo:ab_reactnet18", "-o", blocker / "m.tflite")
    assert code == 1 and f"cannot write {blocker / 'm.tflite'}: {blocker} is not a folder" in stderr
    code, _, stderr = abbnn("convert", "zoo:ab_reactnet18", "-o", tmp_path)
    assert code == 1 and "must end in .tflite" in stderr


def test_an_absurd_width_is_refused_with_its_size_before_anything_is_written(abbnn, tmp_path):
    """The widest width the option takes (64; beyond it argparse refuses) does not fit in
    this machine's memory for training: refused with its estimated size."""
    out = tmp_path / "run"
    code, _, stderr = abbnn("train", "--width-multiplier", "64", "--output", out)
    assert code == 1
    assert "--width-multiplier 64 makes ab_reactnet18 about" in stderr and " GB" in stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "bn_reactnet18", "--alpha", "0.125"], "--alpha does not apply to bn_reactnet18"),
        (["--model", "ab_xnornet18", "--prelu-exponent", "-2"],
         "--prelu-exponent applies to Q-PReLU slopes, which ab_xnornet18 does not have"),
        (["--activation", "leaky", "--prelu-exponent", "-2"],
         "which ab_reactnet18 with --activation leaky does not have"),
    ],
)  # fmt: skip
def test_options_a_model_does_not_take_are_refused_before_the_run_folder(
    abbnn, tmp_path, args, message
):
    """(Found after the trial: refused at build time, they left a run.json recording them,
    and the rerun without them was then refused as a changed run.)"""
    code, _, stderr = abbnn("train", *args, "--output", tmp_path / "run")
    assert code == 1 and message in stderr, stderr
    assert not (tmp_path / "run").exists()


def test_summary_takes_the_zoo_spelling_of_every_other_command(abbnn):
    for spelling in ("zoo:ab_xnornet18", "ab_xnornet18"):
        code, stdout, stderr = abbnn("summary", spelling, "--input-shape", "32,32,3",
                                     "--width-multiplier", "0.125")  # fmt: skip
        assert code == 0 and "Total params" in stdout, stderr


def test_interrupting_a_resumable_command_says_how_to_resume(abbnn, monkeypatch):
    from abbnn.cli.commands import train

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "run", interrupted)
    code, stdout, stderr = abbnn("train")
    assert code == 130
    assert stderr == (
        "abbnn: interrupted; rerun the same command to resume from the last finished epoch\n"
    )
    assert stdout == "\n"  # a progress bar's line ends before the message (trial: glued)


def test_sequential_models_fold_exactly_and_convert(float64, tmp_path):
    model = tf.keras.Sequential(
        [tf.keras.Input((8, 8, 3)), layers.ScaledStdConv2D(4, 3, padding="same"),
         tf.keras.layers.Flatten(), tf.keras.layers.Dense(5)]
    )  # fmt: skip
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3))
    np.testing.assert_allclose(fold(model)(x), model(x), rtol=1e-12, atol=1e-12)
    tf.keras.backend.set_floatx("float32")
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(5)])  # fmt: skip
    assert op_counts(convert(model)) == {"FULLY_CONNECTED": 1, "RESHAPE": 1}


def test_a_model_fold_cannot_read_is_named():
    from larq_abbnn.converters import FoldError

    class Subclassed(tf.keras.Model):
        def call(self, x):
            return x

    with pytest.raises(FoldError, match="subclassed Keras model.*functional or Sequential"):
        fold(Subclassed())
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(3)], name="mlp")
    with pytest.raises(FoldError, match="Sequential model mlp has no input shape"):
        fold(unbuilt)


# -- files and numbers a command does not take, said up front (issue 31) ------------------
def test_a_converted_file_of_another_format_is_named_with_what_the_command_reads(abbnn, tmp_path):
    """The trial: `evaluate m.onnx` listed only Keras files, `benchmark m.onnx` said "not a
    TFLite flatbuffer". evaluate now reads QONNX files: a corrupt one is named as such."""
    import importlib.util

    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"any bytes: refused by name, before they are read")
    code, _, stderr = abbnn("evaluate", onnx)
    assert code == 1 and stderr.count("\n") == 1
    if importlib.util.find_spec("onnx") is not None:
        assert stderr.startswith(f"abbnn evaluate: error: {onnx}: not a valid ONNX file")
    else:
        assert stderr.startswith("abbnn evaluate: error:") and "[onnx]" in stderr
    code, _, stderr = abbnn("benchmark", onnx)
    assert (code, stderr) == (
        1,
        f"abbnn benchmark: error: {onnx} is a .onnx (QONNX) file, which abbnn benchmark does "
        "not read: it times .tflite files in LCE's interpreter\n",
    )
    other = tmp_path / "m.txt"
    other.write_text("x")
    code, _, stderr = abbnn("evaluate", other)
    assert stderr == (
        f"abbnn evaluate: error: {other}: expected a .keras or .h5 file, a SavedModel folder, "
        "a .tflite file or a QONNX .onnx file\n"
    )


def test_benchmark_compare_refuses_what_it_cannot_do_before_any_work(abbnn):
    """The trial: at 32 px the advice named an option benchmark does not have; without
    larq-zoo the missing extra was said after 37 s of conversions."""
    start = time.perf_counter()
    code, _, stderr = abbnn(
        "benchmark", "zoo:ab_reactnet18", "--compare", "--input-shape", "32,32,3"
    )
    assert (code, stderr) == (
        1,
        "abbnn benchmark: error: --compare builds every network with the ImageNet stem, as "
        "larq-zoo's are, which needs inputs of at least 64 px: --input-shape 64,64,3 or larger "
        "(got 32x32)\n",
    )
    import importlib.util

    code, _, stderr = abbnn("benchmark", "zoo:ab_reactnet18", "--compare")
    if importlib.util.find_spec("larq_zoo") is None:
        assert (code, stderr) == (
            1,
            "abbnn benchmark: error: --compare times larq-zoo's QuickNet and BiRealNet models: "
            'pip install "larq-abbnn[bench]" (larq-zoo 2.4.0)\n',
        )
        assert time.perf_counter() - start < 10


def test_a_batch_larger_than_memory_is_refused_before_a_batch_is_read(abbnn, tmp_path):
    from conftest import image_folder

    images = image_folder(tmp_path / "images", classes=2, per_class=10)
    out = tmp_path / "run"
    code, _, stderr = abbnn("train", "--dataset", images, "--batch-size", "100000000",
                            "--output", out)  # fmt: skip
    assert code == 1
    assert stderr.startswith(
        "abbnn train: error: --batch-size 100,000,000 makes one batch of 32 px images "
        "1,228.8 GB, more than this machine's "
    )
    assert not out.exists()
