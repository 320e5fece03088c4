"""Folds a model (mask layers removed, standardization, gains and alphas precomputed,
Q-PReLU slopes frozen to powers of two) and converts it with Larq Compute Engine. The
output is written atomically."""

from __future__ import annotations

import argparse
import sys
import time

from abbnn.cli import options

HELP = "fold a model and convert it to an LCE TFLite file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=True)
    parser.add_argument("-o", "--output", required=True, help="output .tflite file")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check that the folded model (float64) and the file (float32) compute what "
        "the Keras model computes",
    )
    parser.add_argument(
        "--verify-samples",
        type=options.positive(int),
        default=256,
        help="random inputs --verify compares on",
    )
    parser.add_argument(
        "--audit", action="store_true", help="count the file's multiplications (abbnn audit)"
    )


def run(args: argparse.Namespace) -> int:
    from abbnn.cli.loaders import load_model
    from larq_abbnn.analysis import count_multiplications, op_counts
    from larq_abbnn.converters import convert, verify
    from larq_abbnn.files import atomic_write_bytes, check_writable

    if not args.output.endswith(".tflite"):
        raise ValueError(f"output must end in .tflite, got {args.output}")
    check_writable(args.output)  # before the conversion's half minute, not after
    model = load_model(args.model, args)
    start = time.perf_counter()
    flatbuffer = convert(model, on_stage=lambda stage: print(f"convert    {stage} ...", flush=True))
    seconds = time.perf_counter() - start
    atomic_write_bytes(args.output, flatbuffer)
    ops = op_counts(flatbuffer)
    print(
        f"wrote {args.output}: {len(flatbuffer) / 1e6:.2f} MB, folded and converted in "
        f"{seconds:.1f} s; {ops.get('LceBconv2d', 0)} LceBconv2d"
    )
    print("ops: " + ", ".join(f"{name} {n}" for name, n in sorted(ops.items())))
    if args.audit:
        print(count_multiplications(flatbuffer).table())
    if args.verify:
        result = verify(
            model, flatbuffer, samples=args.verify_samples, progress=sys.stderr.isatty()
        )
        print(f"verify: {result}")
    return 0
