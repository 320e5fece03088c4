"""Runs each .tflite file in LCE's interpreter after warm-up and reports median and min
latency, file size and op mix; --parse-log reads the output of TFLite's benchmark_model /
LCE's lce_benchmark_model (e.g. from a Raspberry Pi) into the same table. The ratio column
is relative to the first row."""

from __future__ import annotations

import argparse
import sys

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require

HELP = "latency, size and op mix of .tflite files (LCE interpreter), or of board logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "models", nargs="*", help=".tflite files, or zoo:NAME (converted here with random weights)"
    )
    parser.add_argument(
        "--threads", type=options.positive(int), default=1, help="interpreter threads"
    )
    parser.add_argument(
        "--runs", type=options.positive(int), default=20, help="timed inferences per model"
    )
    parser.add_argument(
        "--kernel",
        choices=recipe.KERNEL_NAMES,
        default=None,
        help="LCE's binary conv kernel (lce_benchmark_model --use_indirect_bgemm / "
        "--use_reference_bconv) (default: as abbnn evaluate, indirect_bgemm on x86-64, "
        "where it is 5-6x faster, bgemm, which has ARM64 assembly, elsewhere)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="add the BN-Free counterpart, larq-zoo QuickNets/BiRealNet and the "
        "full-precision network (TFLite+XNNPACK), timed in the same run (needs [bench])",
    )
    parser.add_argument(
        "--rounds", type=options.positive(int), default=3, help="--compare: interleaved rounds"
    )
    parser.add_argument(
        "--save-dir", default=None, help="--compare: keep the converted files in this folder"
    )
    parser.add_argument(
        "--input-shape",
        type=options.shape,
        default=None,
        help="H,W,C of zoo:NAME models (default 224,224,3)",
    )
    parser.add_argument(
        "--parse-log",
        action="append",
        metavar="FILE",
        help="a benchmark_model / lce_benchmark_model log to add as a row (repeatable)",
    )
    parser.add_argument(
        "--format", choices=["text", "markdown", "csv"], default="text", help="table format"
    )


def _audited(row, flatbuffer: bytes):
    from larq_abbnn.analysis import count_multiplications

    audit = count_multiplications(flatbuffer)
    row.binary_macs, row.multiplications = audit.binary_macs, audit.full_precision
    return row


def _flatbuffer(spec: str, args: argparse.Namespace) -> bytes:
    from larq_abbnn import zoo
    from larq_abbnn.analysis import read_tflite
    from larq_abbnn.analysis.synthetic import trained_looking
    from larq_abbnn.converters import convert, formats
    from larq_abbnn.converters.formats import refuse_other_formats

    if not spec.startswith("zoo:"):
        refuse_other_formats(
            spec, "abbnn benchmark", "times .tflite files in LCE's interpreter", formats.TFLITE
        )
        return read_tflite(spec)
    model = zoo.get(spec[len("zoo:") :])(input_shape=args.input_shape or (224, 224, 3))
    return convert(trained_looking(model))  # zero biases would vanish: too few ops


#: after "TFLite file not found: PATH"
_READS = " (abbnn benchmark times .tflite files and zoo:NAME models)"


def check(args: argparse.Namespace) -> None:
    if not args.models and not args.parse_log:
        raise ValueError("give at least one .tflite file, zoo:NAME or --parse-log FILE")
    if args.input_shape and not any(spec.startswith("zoo:") for spec in args.models):
        raise ValueError(
            "--input-shape applies to zoo:NAME models only: a .tflite file fixes its input"
        )
    if args.compare and (len(args.models) != 1 or not args.models[0].startswith("zoo:")):
        raise ValueError(
            "--compare picks the reference models for one zoo model: "
            "abbnn benchmark zoo:ab_reactneta --compare"
        )
    for spec in args.models:
        if not spec.startswith("zoo:"):  # an existing file of another format: `run` says
            require(spec, "TFLite file", hint=_READS)  # what benchmark reads
    for path in args.parse_log or []:
        require(path, "benchmark log")


def run(args: argparse.Namespace) -> int:
    from larq_abbnn.analysis.benchmark import measure, op_mix, parse_benchmark_log, table
    from larq_abbnn.analysis.kernels import default_kernel

    args.kernel = args.kernel or default_kernel()
    rows = []
    if args.compare:
        from larq_abbnn.analysis.comparison import check_comparable, compare

        check_comparable(args.input_shape or (224, 224, 3))
        rows = compare(
            args.models[0][len("zoo:") :],
            args.input_shape or (224, 224, 3),
            threads=args.threads,
            runs=args.runs,
            rounds=args.rounds,
            save_dir=args.save_dir,
            kernel=args.kernel,
            progress=sys.stderr.isatty(),
        )
    else:
        for spec in args.models:
            flatbuffer = _flatbuffer(spec, args)
            row = measure(
                flatbuffer, name=spec, threads=args.threads, runs=args.runs, kernel=args.kernel
            )
            rows.append(_audited(row, flatbuffer))
    for path in args.parse_log or []:
        with open(path, encoding="utf-8", errors="replace") as f:
            rows.append(parse_benchmark_log(f.read(), source=path))
    print(table(rows, args.format))
    if args.format == "text":
        for row in rows:
            if row.ops:
                print(f"ops of {row.name}: {op_mix(row)}")
    return 0
