"""`abbnn benchmark MODEL ... [--compare] [--parse-log FILE ...]`."""

from __future__ import annotations

import argparse

from larq_abbnn.benchmark import (
    Measurement,
    measure,
    op_mix,
    parse_benchmark_log,
    read_tflite,
    table,
)


def _audited(row: Measurement, flatbuffer: bytes) -> Measurement:
    from larq_abbnn.converters import count_multiplications

    audit = count_multiplications(flatbuffer)
    row.binary_macs, row.multiplications = audit.binary_macs, audit.full_precision
    return row


def _flatbuffer(spec: str, args: argparse.Namespace) -> bytes:
    if not spec.startswith("zoo:"):
        return read_tflite(spec)
    from larq_abbnn import zoo
    from larq_abbnn.converters import convert

    model = zoo.get(spec[len("zoo:") :])(args.input_shape or (224, 224, 3))
    return convert(zoo.trained_looking(model))  # zero biases would vanish: too few ops


def run(args: argparse.Namespace) -> int:
    if not args.models and not args.parse_log:
        raise ValueError("give at least one .tflite file, zoo:NAME or --parse-log FILE")
    rows = []
    if args.compare:
        if len(args.models) != 1 or not args.models[0].startswith("zoo:"):
            raise ValueError(
                "--compare picks the reference models for one zoo model: "
                "abbnn benchmark zoo:ab_reactneta --compare"
            )
        from larq_abbnn.comparison import compare

        rows = compare(
            args.models[0][len("zoo:") :],
            args.input_shape or (224, 224, 3),
            threads=args.threads,
            runs=args.runs,
            rounds=args.rounds,
            save_dir=args.save_dir,
            kernel=args.kernel,
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
