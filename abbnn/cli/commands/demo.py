"""Builds a zoo model, trains it a few steps with the paper's optimizer, converts it with
Larq Compute Engine, runs the TFLite file in LCE's interpreter next to Keras and reports
agreement, op mix, multiplications, size and latency. The long jobs have their own
commands (abbnn train, abbnn benchmark); the demo runs each part for seconds on data it
can reach: an image folder, or random data."""

from __future__ import annotations

import argparse
import os
import time

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require

HELP = "build an A&B model, train it briefly, convert it with LCE and verify it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="ab_reactnet18", choices=recipe.MODEL_NAMES, help="zoo model"
    )
    options.add_zoo_build(
        parser,
        input_shape="32,32,3, or the image folder's size",
        num_classes="10, or the image folder's",
    )
    parser.add_argument("--steps", type=options.positive(int), default=4, help="training steps")
    parser.add_argument(
        "--batch-size", type=options.positive(int), default=16, help="images per step"
    )
    parser.add_argument(
        "--images",
        default=None,
        help="image folder (one sub-folder per class); random data when omitted",
    )
    parser.add_argument("--output", default="runs/demo", help="folder for model.tflite")
    parser.add_argument("--seed", type=int, default=recipe.SEED, help="random seed")


def _random(shape, num_classes: int, batch_size: int, seed: int):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(8 * batch_size, *shape)).astype(tf.keras.backend.floatx())
    y = rng.integers(0, num_classes, size=8 * batch_size)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def check(args: argparse.Namespace) -> None:
    if args.images:
        require(os.path.expanduser(args.images), "image folder")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import tensorflow as tf

    from abbnn.cli.loaders import build_zoo_model
    from larq_abbnn import zoo
    from larq_abbnn.analysis import count_multiplications
    from larq_abbnn.analysis.benchmark import measure
    from larq_abbnn.converters import verify

    tf.keras.utils.set_random_seed(args.seed)
    dataset, input_shape, classes, source = _data(args)
    # the options as given, with the data's shape and classes where they were left out
    built = argparse.Namespace(**{**vars(args), "input_shape": input_shape, "num_classes": classes})
    start = time.perf_counter()
    model = build_zoo_model(args.model, built)
    binary_convs = zoo.binary_conv_count(model)
    print(
        f"model      {model.name}: {model.count_params():,} parameters, "
        f"{binary_convs} binary convs, built in {time.perf_counter() - start:.1f} s"
    )
    _train(model, dataset, args, stem=args.stem or recipe.stem_for(*input_shape[:2]), source=source)
    conversion, ops = _convert(model, os.path.join(args.output, "model.tflite"), binary_convs)
    flatbuffer = conversion.converted
    inputs = np.concatenate([x.numpy() for x, _ in dataset.take(4)]).astype(np.float32)
    # the fold the file came from: verify does not fold the model again
    print(f"verified   {verify(model, flatbuffer, inputs, folded=conversion.folded)}")
    audit = count_multiplications(flatbuffer)
    print(
        f"audited    {audit.full_precision:,} full-precision multiplications (the paper's "
        f"MO), {audit.shifts:,} shifts, {audit.binary_conv_scaling:,} binary-conv output "
        "scalings per image (abbnn audit for the table)"
    )
    timed = measure(flatbuffer, name=model.name, threads=1, runs=10, warmup=1)
    print(f"latency    {timed.median_ms:.1f} ms median of 10 (LCE interpreter, {timed.kernel} "
          "kernel as abbnn benchmark's default, 1 thread, this machine)")  # fmt: skip
    if ops.get("LceBconv2d", 0) != binary_convs:
        print("demo: FAILED: not every binary conv became an LceBconv2d")
        return 1
    if audit.family == "ab" and audit.full_precision:
        print("demo: FAILED: full-precision multiplications left in an A&B model")
        return 1
    return 0


def _data(args: argparse.Namespace):
    """(dataset, input shape, classes, what the data is): the image folder, or random data
    of `--input-shape` (default 32x32x3) and `--num-classes` (default 10)."""
    from larq_abbnn import data

    if not args.images:
        shape = args.input_shape or (32, 32, 3)
        classes = args.num_classes or 10
        dataset = _random(shape, classes, args.batch_size, args.seed)
        return dataset, shape, classes, "random inputs (pass --images DIR for real data)"
    images = data.load(
        f"folder:{args.images}",
        batch_size=args.batch_size,
        image_size=args.input_shape[0] if args.input_shape else None,
        seed=args.seed,
    )
    source = f"images from {args.images} ({images.num_classes} classes)"
    shape = args.input_shape or images.input_shape
    return images.train, shape, args.num_classes or images.num_classes, source


def _train(model, dataset, args: argparse.Namespace, *, stem: str, source: str) -> None:
    """A few steps of the paper's optimizer, in place."""
    import math

    import tensorflow as tf

    from larq_abbnn import training

    fit_model = training.compile_for_step(
        model, step=args.step, stem=stem, epochs=1, steps_per_epoch=args.steps
    )
    start = time.perf_counter()
    losses = []  # each step's mean loss so far: the first is the first batch's
    record = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(logs["loss"])
    )
    fit_model.fit(
        dataset.repeat(), steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=[record]
    )
    classes = model.output_shape[-1]
    print(
        f"training   {args.steps} steps of {args.batch_size} with the paper's optimizer "
        f"(Adam, AGC{', L2' if args.step == 1 else ''}) on {source}: loss {losses[0]:.3f} "
        f"on the first batch, {losses[-1]:.3f} mean over the {args.steps} (chance: ln "
        f"{classes} = {math.log(classes):.3f}) in {time.perf_counter() - start:.1f} s"
    )


def _convert(model, path: str, binary_convs: int):
    """Fold and convert `model` into `path`; the conversion (the folded model and the
    file's bytes) and the file's op counts."""
    from larq_abbnn.analysis import op_counts
    from larq_abbnn.converters import fold_and_convert
    from larq_abbnn.files import atomic_write_bytes

    start = time.perf_counter()
    conversion = fold_and_convert(model)
    flatbuffer = conversion.converted
    convert_s = time.perf_counter() - start
    atomic_write_bytes(path, flatbuffer)
    ops = op_counts(flatbuffer)
    print(
        f"converted  {path}: folded and converted in {convert_s:.1f} s, "
        f"{len(flatbuffer) / 1e6:.2f} MB; {ops.get('LceBconv2d', 0)} LceBconv2d of "
        f"{binary_convs} binary convs"
    )
    print("ops        " + ", ".join(f"{name} {n}" for name, n in sorted(ops.items())))
    return conversion, ops
