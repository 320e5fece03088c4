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

from larq_abbnn.converters.tflite_graph import check_model, op_counts


@dataclass
class Measurement:
    """One model's row: latencies in milliseconds, where and how they were measured."""

    name: str
    median_ms: float
    min_ms: float | None
    threads: int
    source: str  # "LCE interpreter (this machine)" or the log it was read from
    size_bytes: int | None = None
    ops: Counter = field(default_factory=Counter)


def read_tflite(path: str | os.PathLike) -> bytes:
    """A TFLite file's bytes; a clear error for a missing, truncated or foreign file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TFLite file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        check_model(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return data


def measure(
    flatbuffer: bytes, *, name: str = "model", threads: int = 1, runs: int = 20, warmup: int = 3
) -> Measurement:
    """Single-image latency in LCE's interpreter after `warmup` runs (median and min)."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    if runs < 1 or threads < 1 or warmup < 0:
        raise ValueError(
            f"runs and threads must be >= 1 and warmup >= 0 ({runs}, {threads}, {warmup})"
        )
    ops = op_counts(flatbuffer)
    try:
        interpreter = Interpreter(flatbuffer, num_threads=threads)
    except RuntimeError as error:  # LCE reports load failures as RuntimeError
        raise ValueError(f"{name}: LCE's interpreter cannot load it: {error}") from None
    shape = [1 if d is None or d < 0 else d for d in interpreter.input_shapes[0]]
    shape[0] = 1
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    for _ in range(warmup):
        interpreter.predict(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.predict(x)
        times.append(time.perf_counter() - start)
    return Measurement(
        name=name,
        median_ms=statistics.median(times) * 1e3,
        min_ms=min(times) * 1e3,
        threads=threads,
        source="LCE interpreter (this machine)",
        size_bytes=len(flatbuffer),
        ops=ops,
    )


_TIMINGS = re.compile(r"Inference timings in us:(?P<fields>[^\n]*)")
_FIELD = re.compile(r"(?P<key>[A-Za-z ()]+):\s*(?P<value>[0-9.eE+-]+)")
_GRAPH = re.compile(r"Graph:\s*\[(?P<graph>[^\]]*)\]")
_THREADS = re.compile(r"(?:Num threads|num_threads):\s*\[?(?P<n>\d+)\]?")
_RUN_STATS = re.compile(r"count=\d+.*?min=(?P<min>[0-9.]+).*?avg=(?P<avg>[0-9.eE+-]+)")


def parse_benchmark_log(text: str, *, source: str = "log") -> Measurement:
    """Read TFLite's `benchmark_model` (and LCE's `lce_benchmark_model`) output.

    Uses the summary line `Inference timings in us: Init: ..., First inference: ...,
    Warmup (avg): ..., Inference (avg): ...`, the graph and thread lines when present, and
    the last run-statistics line (`count=... min=... avg=...`) for the minimum.
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
    return Measurement(
        name=os.path.basename(graph.group("graph")) if graph else source,
        median_ms=fields["Inference (avg)"] / 1e3,  # the tool reports the mean
        min_ms=minimum,
        threads=int(threads.group("n")) if threads else 1,
        source=source,
    )


_COLUMNS = (
    "model",
    "latency ms",
    "min ms",
    "ratio",
    "threads",
    "size MB",
    "binary convs",
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
                "" if m.size_bytes is None else f"{m.size_bytes / 1e6:.2f}",
                str(m.ops.get("LceBconv2d", "")) if m.ops else "",
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
