import csv
import io

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_abbnn
from networks import small

from larq_abbnn import zoo
from larq_abbnn.analysis.benchmark import measure, parse_benchmark_log, table
from larq_abbnn.analysis.kernels import default_kernel
from larq_abbnn.analysis.tflite_file import read_tflite
from larq_abbnn.converters import convert

# The format of TFLite's benchmark_model (and LCE's lce_benchmark_model) on a board.
BOARD_LOG = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [1]
Graph: [/home/pi/quicknet.tflite]
Loaded model /home/pi/quicknet.tflite
The input model file size (MB): 4.23
Initialized session in 12.5ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=11 first=46002 curr=45120 min=44981 max=46002 avg=45233.2 std=301

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=45103 curr=44877 min=44702 max=45890 avg=45012.6 std=240

Inference timings in us: Init: 12503, First inference: 46002, Warmup (avg): 45233.2, Inference (avg): 45012.6
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=6.6 overall=12.1
"""


def test_parse_benchmark_log_reads_the_tools_summary():
    m = parse_benchmark_log(BOARD_LOG, source="pi.log")
    assert m.name == "quicknet.tflite" and m.threads == 1 and m.source == "pi.log"
    assert m.median_ms == pytest.approx(45.0126) and m.min_ms == pytest.approx(44.702)


def test_parse_benchmark_log_reads_lces_kernel_flags():
    assert parse_benchmark_log(BOARD_LOG).kernel == "bgemm"
    indirect = BOARD_LOG.replace("Num threads: [1]", "Num threads: [1]\nUse indirect BGEMM: [1]")
    assert parse_benchmark_log(indirect).kernel == "indirect_bgemm"
    both = indirect + "Use reference Bconv: [1]\n"
    assert parse_benchmark_log(both).kernel == "reference"  # LCE's precedence
    assert parse_benchmark_log(BOARD_LOG + "Use indirect BGEMM: [0]\n").kernel == "bgemm"


def test_parse_benchmark_log_refuses_other_text():
    with pytest.raises(ValueError, match="notes.txt: no 'Inference timings in us:' line"):
        parse_benchmark_log("hello\n", source="notes.txt")
    with pytest.raises(ValueError, match="no 'Inference \\(avg\\)' field"):
        parse_benchmark_log("Inference timings in us: Init: 5, First inference: 7\n")


@pytest.fixture(scope="module")
def tflite_file(tmp_path_factory, small_tflite):
    path = tmp_path_factory.mktemp("bench") / "xnor.tflite"
    path.write_bytes(small_tflite)
    return path


def test_measure_and_table(tflite_file):
    local = measure(read_tflite(tflite_file), name="xnor", runs=3)
    assert local.median_ms > 0 and local.min_ms <= local.median_ms
    assert local.ops["LceBconv2d"] == 4 and local.size_bytes == tflite_file.stat().st_size
    board = parse_benchmark_log(BOARD_LOG, source="pi.log")
    text = table([local, board], "markdown").splitlines()
    assert text[0].startswith("| model | latency ms") and len(text) == 4
    ratio = board.median_ms / local.median_ms
    assert f"| {ratio:.2f} |" in text[3]
    csv_lines = table([local, board], "csv").splitlines()
    assert csv_lines[0].startswith("model,latency ms") and csv_lines[2].startswith("quicknet")


def test_measure_selects_lces_kernel(tflite_file):
    flatbuffer = read_tflite(tflite_file)
    rows = [measure(flatbuffer, runs=2, kernel=k) for k in ("bgemm", "indirect_bgemm")]
    assert [r.kernel for r in rows] == ["bgemm", "indirect_bgemm"]
    assert "| indirect_bgemm |" in table(rows, "markdown").splitlines()[3]
    with pytest.raises(ValueError, match="kernel must be one of bgemm, indirect_bgemm"):
        measure(flatbuffer, kernel="fast")


def test_the_chosen_kernel_reaches_lces_interpreter(monkeypatch):
    """LCE 0.16's optimized kernel miscomputes a zero-padded binary conv on a 2x2 map and
    its reference kernel does not, so the outputs of `measure`'s runs show which ran."""
    from larq_compute_engine import convert_keras_model
    from test_lce_conversion import _single_conv

    from larq_abbnn.analysis import benchmark

    model = _single_conv(2, 64, 0.0)
    flatbuffer = convert_keras_model(model)
    runs = {}

    def spy(data, threads, kernel):
        shape, dtype, run = real(data, threads, kernel)
        runs[kernel] = run
        return shape, dtype, run

    real = benchmark._lce_runner
    monkeypatch.setattr(benchmark, "_lce_runner", spy)
    for kernel in ("bgemm", "reference"):
        assert measure(flatbuffer, runs=1, kernel=kernel).kernel == kernel
    x = np.random.default_rng(1).normal(size=(1, 2, 2, 64)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    assert np.abs(runs["bgemm"](x) - expected).max() > 1.0
    assert np.abs(runs["reference"](x) - expected).max() == 0.0


def test_benchmark_command_measures_and_reads_logs(tflite_file, tmp_path):
    log = tmp_path / "pi.log"
    log.write_text(BOARD_LOG)
    result = run_abbnn(
        "benchmark",
        str(tflite_file),
        "--runs",
        "3",
        "--parse-log",
        str(log),
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # by default the kernel abbnn evaluate uses (indirect_bgemm on x86-64); the log's own
    assert [r["kernel"] for r in rows] == [default_kernel(), "bgemm"]
    assert rows[1]["model"] == "quicknet.tflite" and rows[0]["binary convs"] == "4"


@pytest.mark.parametrize(
    "content", [b"", b"TFL3", b"\x00\x00\x00\x00TFL3" + bytes(64), b"PK\x03\x04junk"]
)
def test_benchmark_refuses_broken_files_in_one_line(abbnn, tmp_path, content):
    """In this process (test_reliability runs each command's errors in a subprocess)."""
    path = tmp_path / "broken.tflite"
    path.write_bytes(content)
    code, _, stderr = abbnn("benchmark", path)
    assert code == 1 and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert "broken.tflite" in stderr
    code, _, stderr = abbnn("benchmark", tmp_path / "missing.tflite")
    assert code == 1 and "TFLite file not found" in stderr


@pytest.mark.parametrize("name", ["ab_reactnet18", "ab_reactneta"])
def test_converted_ab_models_are_within_10_percent_of_their_size_floor(name):
    from larq_abbnn.analysis.size import size_floor

    model = zoo.get(name)(input_shape=(224, 224, 3))
    size, floor = len(convert(model)), size_floor(model)
    # the fold merges some biases into the binary convs' constants: a file may even
    # undercut this floor slightly; measured 0.99 (ReActNet-18) and 0.98 (ReActNet-A)
    assert 0.9 * floor <= size <= 1.10 * floor, (size, floor, size / floor)


def test_comparison_candidates_follow_the_backbone_class():
    from larq_abbnn.analysis.comparison import candidates

    labels = [label for label, _, _ in candidates("ab_reactneta")]
    assert labels == [
        "ab_reactneta (A&B)",
        "bnfree_reactneta (BN-Free)",
        "QuickNetSmall (larq-zoo)",
        "QuickNet (larq-zoo)",
        "QuickNetLarge (larq-zoo)",
        "ab_reactneta full precision (TFLite+XNNPACK)",
    ]
    labels = [label for label, _, _ in candidates("ab_reactnet18")]
    assert "BiRealNet (larq-zoo)" in labels and "bnfree_reactnet18 (BN-Free)" in labels
    # larq-zoo's networks have ImageNet stems at every size, and so do ours here: at 64 px
    # the zoo's default would be the CIFAR stem (no max-pool, 16x the binary MACs)
    from larq_abbnn.analysis.tflite_file import op_counts

    (_, convert_ours, _), *_ = candidates("ab_reactnet18", (64, 64, 3))
    assert op_counts(convert_ours())["MAX_POOL_2D"] == 1


def test_full_precision_counterpart_has_the_same_weights_and_no_binary_op():
    from larq_abbnn import layers
    from larq_abbnn.analysis.comparison import full_precision_counterpart
    from larq_abbnn.analysis.tflite_file import op_counts

    model = small()
    full = full_precision_counterpart(model)
    for source in model.layers:  # values, not just counts
        target = full.get_layer(source.name)
        if isinstance(source, layers.QuantRPReLU):  # the slopes it applies, as a PReLU
            assert isinstance(target, tf.keras.layers.PReLU)
            slopes = tf.reshape(source.slopes(), [-1]).numpy()
            np.testing.assert_array_equal(target.get_weights()[0].ravel(), slopes)
        else:
            for ours, theirs in zip(target.get_weights(), source.get_weights(), strict=True):
                np.testing.assert_array_equal(ours, theirs)
    assert not any(isinstance(l, layers.BinaryScaledStdConv2D) for l in full.layers)
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(full).convert()
    ops = op_counts(flatbuffer)
    convs = [l for l in model.layers if isinstance(l, layers.SymmetricConv2D)]
    prelus = [l for l in model.layers if isinstance(l, layers.QuantRPReLU)]
    assert len(convs) == 8 and len(prelus) == 4  # stem, 4 binary, 3 shortcuts
    assert "LceBconv2d" not in ops and ops["CONV_2D"] == len(convs)
    assert ops["PRELU"] == len(prelus) and "SELECT_V2" not in ops
    row = measure(flatbuffer, runs=2, interpreter="tflite")
    assert row.source == "TFLite+XNNPACK (this machine)" and row.median_ms > 0


def test_benchmark_zoo_model_reports_binary_macs_and_mo():
    result = run_abbnn(
        "benchmark",
        "zoo:ab_reactnet18",
        "--input-shape",
        "32,32,3",
        "--runs",
        "2",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.strip().splitlines()[:2]
    assert "binary MACs" in header and "MO" in header
    assert row.split(",")[header.split(",").index("MO")] == "0"
