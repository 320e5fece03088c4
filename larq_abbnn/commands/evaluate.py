"""`abbnn evaluate MODEL`: top-1/top-5 accuracy of a Keras model or a .tflite file."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from larq_abbnn.commands.train import load_data
from larq_abbnn.training.evaluate import default_kernel, evaluate, load_for_evaluation


def _input_shape(model) -> tuple:
    if isinstance(model, bytes):
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        return tuple(Interpreter(model).input_shapes[0][1:])
    return tuple(model.input_shape[1:])


def run(args: argparse.Namespace) -> int:
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
    return 0 if np.isfinite(result.top1) else 1
