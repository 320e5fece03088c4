"""Builds a zoo model, trains it a few steps with the paper's optimizer, converts it with
Larq Compute Engine, runs the TFLite file in LCE's interpreter next to Keras and reports
agreement, op mix, multiplications, size and latency. The long jobs have their own
commands (abbnn train, abbnn benchmark); the demo runs each part for seconds on data it
can reach: an image folder, or random data."""

from __future__ import annotations

import argparse
import os
import time

from abbnn import options, recipe

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


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import tensorflow as tf
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    from abbnn.loaders import build_zoo_model
    from larq_abbnn import data, training, zoo
    from larq_abbnn.analysis import count_multiplications, op_counts
    from larq_abbnn.conversion import convert, verify
    from larq_abbnn.files import atomic_write_bytes

    tf.keras.utils.set_random_seed(args.seed)
    if args.images:
        images = data.load(
            f"folder:{args.images}",
            batch_size=args.batch_size,
            image_size=args.input_shape[0] if args.input_shape else None,
            seed=args.seed,
        )
        dataset, classes = images.train, images.num_classes
        args.input_shape = args.input_shape or images.input_shape
        source = f"images from {args.images} ({classes} classes)"
    else:
        args.input_shape = args.input_shape or (32, 32, 3)
        classes = args.num_classes or 10
        dataset = _random(args.input_shape, classes, args.batch_size, args.seed)
        source = "random inputs (pass --images DIR for real data)"
    args.num_classes = args.num_classes or classes

    start = time.perf_counter()
    model = build_zoo_model(args.model, args)
    build_s = time.perf_counter() - start
    print(
        f"model      {model.name}: {model.count_params():,} parameters, "
        f"{zoo.binary_conv_count(model)} binary convs, built in {build_s:.1f} s"
    )

    stem = args.stem or recipe.stem_for(*args.input_shape[:2])
    fit_model = training.compile_for_step(
        model, step=args.step, stem=stem, epochs=1, steps_per_epoch=args.steps
    )
    start = time.perf_counter()
    history = fit_model.fit(dataset.repeat(), steps_per_epoch=args.steps, epochs=1, verbose=0)
    train_s = time.perf_counter() - start
    print(
        f"training   {args.steps} steps of {args.batch_size} with the paper's optimizer "
        f"(Adam, AGC{', L2' if args.step == 1 else ''}) on {source}: "
        f"loss {history.history['loss'][-1]:.3f} in {train_s:.1f} s"
    )

    start = time.perf_counter()
    flatbuffer = convert(model)
    convert_s = time.perf_counter() - start
    path = os.path.join(args.output, "model.tflite")
    atomic_write_bytes(path, flatbuffer)
    ops = op_counts(flatbuffer)
    print(
        f"converted  {path}: folded and converted in {convert_s:.1f} s, "
        f"{len(flatbuffer) / 1e6:.2f} MB; {ops.get('LceBconv2d', 0)} LceBconv2d of "
        f"{zoo.binary_conv_count(model)} binary convs"
    )
    print("ops        " + ", ".join(f"{name} {n}" for name, n in sorted(ops.items())))

    inputs = np.concatenate([x.numpy() for x, _ in dataset.take(4)]).astype(np.float32)
    print(f"verified   {verify(model, flatbuffer, inputs)}")
    audit = count_multiplications(flatbuffer)
    print(
        f"audited    {audit.full_precision:,} full-precision multiplications (the paper's "
        f"MO), {audit.shifts:,} shifts, {audit.binary_conv_scaling:,} binary-conv output "
        "scalings per image (abbnn audit for the table)"
    )

    interpreter = Interpreter(flatbuffer, num_threads=1)
    single = inputs[:1]
    interpreter.predict(single)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        interpreter.predict(single)
        times.append(time.perf_counter() - start)
    print(f"latency    {np.median(times) * 1e3:.1f} ms median of 10 (1 thread, this machine)")

    if ops.get("LceBconv2d", 0) != zoo.binary_conv_count(model):
        print("demo: FAILED: not every binary conv became an LceBconv2d")
        return 1
    if audit.family == "ab" and audit.full_precision:
        print("demo: FAILED: full-precision multiplications left in an A&B model")
        return 1
    return 0
