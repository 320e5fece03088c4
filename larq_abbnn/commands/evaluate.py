"""`abbnn evaluate MODEL`: top-1/top-5 accuracy of a Keras model or a .tflite file."""

from __future__ import annotations

import argparse

import numpy as np

from larq_abbnn.commands.train import load_data
from larq_abbnn.training.evaluate import evaluate, load_for_evaluation


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
    result = evaluate(model, d.validation, limit=args.limit, threads=args.threads)
    kind = "TFLite (LCE interpreter)" if isinstance(model, bytes) else "Keras"
    print(f"{args.model} [{kind}] on {args.dataset} validation: {result}")
    return 0 if np.isfinite(result.top1) else 1
