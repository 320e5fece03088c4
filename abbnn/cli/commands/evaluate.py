"""Evaluates a .keras/.h5 model in Keras, a .tflite file in LCE's interpreter or a QONNX
.onnx file in qonnx's executor on the validation split (with the recipe's test
transform), so the deployed file's accuracy is measured, not assumed. Prints top-1/top-5
and images per second, and records them beside the model (MODEL.accuracy.json: dataset,
split, images, --limit; abbnn report shows only an evaluation of the whole split). A
model inside a run folder is evaluated on the run's dataset unless --dataset says
otherwise."""

from __future__ import annotations

import argparse
import os
import sys
import time

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require, require_dataset

HELP = "top-1/top-5 accuracy of a Keras model, a .tflite or a QONNX .onnx file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=".keras/.h5 model, .tflite or QONNX .onnx file")
    options.add_data(parser, from_run=True)
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


def _with_dataset(args: argparse.Namespace) -> argparse.Namespace:
    """The options with --dataset and --val-fraction from the run folder the model lies in,
    unless given (README: `abbnn evaluate RUN/step2/best.tflite`); cifar10 and 0.1 elsewhere."""
    from larq_abbnn.training.run_folder import RunFolder

    run = RunFolder.containing(args.model)
    config = (run.config() if run else None) or {}
    dataset = args.dataset
    if dataset is None:
        dataset = config.get("dataset") or "cifar10"
        if run is not None and config.get("dataset"):
            print(f"dataset    {dataset}, the run's ({run.config_path})")
    val_fraction = args.val_fraction
    if val_fraction is None:
        same = dataset == config.get("dataset")
        val_fraction = (config.get("val_fraction") if same else None) or 0.1
    return argparse.Namespace(**{**vars(args), "dataset": dataset, "val_fraction": val_fraction})


def check(args: argparse.Namespace) -> None:
    require(args.model, "model")
    require_dataset(args.dataset)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from abbnn.cli.loaders import load_data
    from larq_abbnn.analysis.accuracy import evaluate, input_shape_and_classes, load_for_evaluation
    from larq_abbnn.analysis.kernels import default_kernel
    from larq_abbnn.converters import formats
    from larq_abbnn.training.run_folder import record_accuracy

    model = load_for_evaluation(args.model)
    args = _with_dataset(args)
    d = load_data(args)
    shape, classes = input_shape_and_classes(model)
    if shape != d.input_shape:
        raise ValueError(
            f"{args.model} takes {shape} inputs but {args.dataset} gives {d.input_shape} "
            "images after its test transform"
        )
    if classes != d.num_classes:
        raise ValueError(
            f"{args.model} has {classes} classes but {args.dataset} has {d.num_classes}: "
            "its accuracy there would mean nothing (wrong --dataset?)"
        )
    examples = min(args.limit or d.validation_examples, d.validation_examples)
    start = time.perf_counter()
    result = evaluate(
        model,
        d.validation,
        limit=args.limit,
        threads=args.threads,
        kernel=args.kernel,
        progress=sys.stderr.isatty(),
        total=examples,
    )
    rate = result.examples / (time.perf_counter() - start)
    if isinstance(model, bytes):
        threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
        kind = f"TFLite (LCE interpreter, {args.kernel or default_kernel()}, {threads})"
    elif formats.QONNX.holds(model):
        kind = formats.QONNX.runner
    else:
        kind = "Keras"
    full = result.examples == d.validation_examples
    split = d.validation_split + ("" if full else f", first {result.examples:,}")
    print(f"{args.model} [{kind}] on {args.dataset} validation ({split}): {result} "
          f"({rate:,.0f} images/s)")  # fmt: skip
    evaluation = {
        "top1": result.top1,
        "top5": result.top5,
        "dataset": args.dataset,
        "split": d.validation_split,
        "examples": result.examples,
        "limit": args.limit,
        "full": full,
        "how": kind,
        "images_per_second": rate,
    }
    try:  # beside the model, for `abbnn report`
        record_accuracy(args.model, evaluation)
    except OSError as error:
        print(f"abbnn evaluate: could not record the result: {error}", file=sys.stderr)
    return 0 if np.isfinite(result.top1) else 1
