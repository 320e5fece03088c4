"""Evaluates a .keras/.h5 model in Keras or a .tflite file in LCE's interpreter on the
validation split (with the recipe's test transform), so the deployed file's accuracy is
measured, not assumed. Prints top-1/top-5 and images per second, and records them beside
the model (MODEL.accuracy.json, which abbnn report reads)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from abbnn import options, recipe

HELP = "top-1/top-5 accuracy of a Keras model or a .tflite file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=".keras/.h5 model or .tflite file")
    options.add_data(parser)
    parser.add_argument(
        "--limit", type=options.positive(int), default=None, help="at most N images (default: all)"
    )
    parser.add_argument(
        "--threads",
        type=options.positive(int),
        default=os.cpu_count() or 1,
        help="LCE interpreter threads for .tflite files (default: every core)",
    )
    parser.add_argument(
        "--kernel",
        choices=recipe.KERNEL_NAMES,
        default=None,
        help="LCE binary conv kernel for .tflite files (default: indirect_bgemm on x86-64, "
        "bgemm, which has ARM64 assembly, elsewhere)",
    )


def _input_shape(model) -> tuple:
    if isinstance(model, bytes):
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        return tuple(Interpreter(model).input_shapes[0][1:])
    return tuple(model.input_shape[1:])


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from abbnn.loaders import load_data
    from larq_abbnn.analysis.accuracy import evaluate, load_for_evaluation
    from larq_abbnn.analysis.tflite_file import default_kernel
    from larq_abbnn.files import write_json

    model = load_for_evaluation(args.model)
    d = load_data(args)
    shape = _input_shape(model)
    if shape != d.input_shape:
        raise ValueError(
            f"{args.model} takes {shape} inputs but {args.dataset} gives {d.input_shape} "
            "images after its test transform"
        )
    start = time.perf_counter()
    result = evaluate(
        model,
        d.validation,
        limit=args.limit,
        threads=args.threads,
        kernel=args.kernel,
        progress=sys.stderr.isatty(),
    )
    rate = result.examples / (time.perf_counter() - start)
    if isinstance(model, bytes):
        threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
        kind = f"TFLite (LCE interpreter, {args.kernel or default_kernel()}, {threads})"
    else:
        kind = "Keras"
    print(f"{args.model} [{kind}] on {args.dataset} validation: {result} ({rate:,.0f} images/s)")
    record = {
        "top1": result.top1,
        "top5": result.top5,
        "examples": result.examples,
        "dataset": args.dataset,
        "how": kind,
        "images_per_second": rate,
    }
    try:  # beside the model, for `abbnn report`
        write_json(args.model + ".accuracy.json", record)
    except OSError as error:
        print(f"abbnn evaluate: could not record the result: {error}", file=sys.stderr)
    return 0 if np.isfinite(result.top1) else 1
