"""`abbnn benchmark MODEL.tflite ... [--parse-log FILE ...]`."""

import argparse

from larq_abbnn.benchmark import measure, op_mix, parse_benchmark_log, read_tflite, table


def run(args: argparse.Namespace) -> int:
    if not args.models and not args.parse_log:
        raise ValueError("give at least one .tflite file or --parse-log FILE")
    rows = []
    for path in args.models:
        rows.append(measure(read_tflite(path), name=path, threads=args.threads, runs=args.runs))
    for path in args.parse_log or []:
        with open(path, encoding="utf-8", errors="replace") as f:
            rows.append(parse_benchmark_log(f.read(), source=path))
    print(table(rows, args.format))
    if args.format == "text":
        for row in rows:
            if row.ops:
                print(f"ops of {row.name}: {op_mix(row)}")
    return 0
