"""Latency, size and op mix of TFLite files, measured here or read from a board's log."""

from __future__ import annotations

import csv
import io
import os
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from larq_abbnn.analysis.kernels import KERNELS, default_kernel
from larq_abbnn.analysis.tflite_file import op_counts


@dataclass
class Measurement:
    """One model's row: latencies in milliseconds, where and how they were measured."""

    name: str
    median_ms: float
    min_ms: float | None
    threads: int
    source: str  # "LCE interpreter (this machine)" or the log it was read from
    kernel: str = "bgemm"  # LCE's LceBconv2d kernel (`KERNELS`); "" for float graphs
    size_bytes: int | None = None
    ops: Counter = field(default_factory=Counter)
    binary_macs: int | None = None
    multiplications: int | None = None  # audited full-precision count (the paper's MO)


def _tflite_runner(flatbuffer: bytes, threads: int):
    """TF Lite's own interpreter (XNNPACK for float graphs): the full-precision baseline."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]

    def run(x):
        interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()

    return list(detail["shape"]), np.dtype(detail["dtype"]), run


def _lce_runner(flatbuffer: bytes, threads: int, kernel: str):
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    interpreter = Interpreter(flatbuffer, num_threads=threads, **KERNELS[kernel])
    return (
        list(interpreter.input_shapes[0]),
        np.dtype(interpreter.input_types[0]),
        interpreter.predict,
    )


def measure(
    flatbuffer: bytes,
    *,
    name: str = "model",
    threads: int = 1,
    runs: int = 20,
    warmup: int = 3,
    interpreter: str = "lce",
    kernel: str | None = None,
) -> Measurement:
    """Single-image latency after `warmup` runs (median and min).

    `interpreter` is `"lce"` (LCE's interpreter, which runs LCE's binary ops) or
    `"tflite"` (TF Lite's, with XNNPACK: for full-precision baselines). `kernel` picks
    LCE's binary conv kernel (`KERNELS`; default `default_kernel()`, as every command
    uses); compare models on the same one.
    """
    kernel = kernel or default_kernel()
    if runs < 1 or threads < 1 or warmup < 0:
        raise ValueError(
            f"runs and threads must be >= 1 and warmup >= 0 ({runs}, {threads}, {warmup})"
        )
    if interpreter not in ("lce", "tflite"):
        raise ValueError(f"interpreter must be 'lce' or 'tflite', got {interpreter!r}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    ops = op_counts(flatbuffer)
    try:
        if interpreter == "lce":
            shape, dtype, run = _lce_runner(flatbuffer, threads, kernel)
        else:
            shape, dtype, run = _tflite_runner(flatbuffer, threads)
    except (RuntimeError, ValueError) as error:  # load failures
        raise ValueError(f"{name}: the {interpreter} interpreter cannot load it: {error}") from None
    shape = [1 if d is None or d < 0 else int(d) for d in shape]
    shape[0] = 1
    rng = np.random.default_rng(0)
    if dtype == np.uint8:  # a file that takes raw pixels (convert's input_pixels="uint8")
        x = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        x = rng.normal(size=shape).astype(dtype)
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return Measurement(
        name=name,
        median_ms=statistics.median(times) * 1e3,
        min_ms=min(times) * 1e3,
        threads=threads,
        source=(
            "LCE interpreter (this machine)"
            if interpreter == "lce"
            else "TFLite+XNNPACK (this machine)"
        ),
        kernel=kernel if interpreter == "lce" else "",
        size_bytes=len(flatbuffer),
        ops=ops,
    )


_TIMINGS = re.compile(r"Inference timings in us:(?P<fields>[^\n]*)")
_FIELD = re.compile(r"(?P<key>[A-Za-z ()]+):\s*(?P<value>[0-9.eE+-]+)")
_GRAPH = re.compile(r"Graph:\s*\[(?P<graph>[^\]]*)\]")
_THREADS = re.compile(r"(?:Num threads|num_threads):\s*\[?(?P<n>\d+)\]?")
_KERNEL_FLAGS = {
    "indirect_bgemm": re.compile(r"Use indirect BGEMM:\s*\[(?:1|true)\]", re.IGNORECASE),
    "reference": re.compile(r"Use reference Bconv:\s*\[(?:1|true)\]", re.IGNORECASE),
}
_RUN_STATS = re.compile(r"count=\d+.*?min=(?P<min>[0-9.]+).*?avg=(?P<avg>[0-9.eE+-]+)")


def parse_benchmark_log(text: str, *, source: str = "log") -> Measurement:
    """Read TFLite's `benchmark_model` (and LCE's `lce_benchmark_model`) output.

    Uses the summary line `Inference timings in us: Init: ..., First inference: ...,
    Warmup (avg): ..., Inference (avg): ...`, the graph and thread lines when present, and
    the last run-statistics line (`count=... min=... avg=...`) for the minimum, and LCE's
    kernel lines (`Use indirect BGEMM: [1]`, logged when `--use_indirect_bgemm=true`).
    """
    timings = _TIMINGS.findall(text)
    if not timings:
        raise ValueError(
            f"{source}: no 'Inference timings in us:' line; is this the output of "
            "benchmark_model / lce_benchmark_model?"
        )
    fields = {m.group("key").strip(): float(m.group("value")) for m in _FIELD.finditer(timings[-1])}
    if "Inference (avg)" not in fields:
        raise ValueError(f"{source}: the timings line has no 'Inference (avg)' field")
    graph = _GRAPH.search(text)
    threads = _THREADS.search(text)
    stats = _RUN_STATS.findall(text)
    minimum = float(stats[-1][0]) / 1e3 if stats else None
    # LCE runs the reference kernel when both flags are set
    kernel = next(
        (k for k in ("reference", "indirect_bgemm") if _KERNEL_FLAGS[k].search(text)), "bgemm"
    )
    return Measurement(
        name=os.path.basename(graph.group("graph")) if graph else source,
        median_ms=fields["Inference (avg)"] / 1e3,  # the tool reports the mean
        min_ms=minimum,
        threads=int(threads.group("n")) if threads else 1,
        source=source,
        kernel=kernel,
    )


_COLUMNS = (
    "model",
    "latency ms",
    "min ms",
    "ratio",
    "threads",
    "kernel",
    "size MB",
    "binary convs",
    "binary MACs",
    "MO",
    "source",
)


def _rows(measurements: list[Measurement]) -> list[list[str]]:
    reference = measurements[0].median_ms if measurements else 1.0
    rows = []
    for m in measurements:
        rows.append(
            [
                m.name,
                f"{m.median_ms:.1f}",
                "" if m.min_ms is None else f"{m.min_ms:.1f}",
                f"{m.median_ms / reference:.2f}",
                str(m.threads),
                m.kernel,
                "" if m.size_bytes is None else f"{m.size_bytes / 1e6:.2f}",
                str(m.ops.get("LceBconv2d", 0)) if m.ops else "",
                "" if m.binary_macs is None else f"{m.binary_macs / 1e6:,.0f} M",
                "" if m.multiplications is None else f"{m.multiplications:,}",
                m.source,
            ]
        )
    return rows


def table(measurements: list[Measurement], fmt: str = "text") -> str:
    """Rows in `text`, `markdown` or `csv`; `ratio` is latency over the first row's."""
    rows = _rows(measurements)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(_COLUMNS)
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "markdown":
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    if fmt != "text":
        raise ValueError(f"format must be text, markdown or csv, got {fmt!r}")
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths))]
    return "\n".join(lines + ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows])


def op_mix(measurement: Measurement) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(measurement.ops.items()))
