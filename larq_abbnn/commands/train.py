"""`abbnn train`: the paper's recipe, one step or both, resumable, with plots."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named on the command line (create it before any op)."""
    if name == "mirrored":
        # MirroredStrategy takes only GPUs by default; without them, every logical CPU
        # (one unless configured with tf.config.set_logical_device_configuration).
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--strategy multiworker reads the cluster from TF_CONFIG, which is not set "
                "(see the README's distributed training section)"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def load_data(args: argparse.Namespace):
    from larq_abbnn import data

    return data.load(
        args.dataset,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        validation_fraction=args.val_fraction,
        skip_corrupt=args.skip_corrupt,
        seed=getattr(args, "seed", 2023),
    )


def run(args: argparse.Namespace) -> int:
    strategy = make_strategy(args.strategy)
    from larq_abbnn import training, zoo
    from larq_abbnn.training import plots

    tf.keras.utils.set_random_seed(args.seed)
    tf.keras.backend.set_floatx(args.floatx)  # before the data and models are built
    d = load_data(args)
    dataset_name = args.dataset.replace("folder:", "").rstrip("/").split("/")[-1]
    folder = args.output or os.path.join("runs", f"{args.model}-{dataset_name}")
    print(
        f"train      {args.model} (width x{args.width_multiplier}) on {args.dataset}: "
        f"{d.train_examples:,} train / {d.validation_examples:,} validation images, "
        f"{d.num_classes} classes, {d.image_size}px, {strategy.num_replicas_in_sync} "
        f"replica(s); run folder {folder}"
    )

    def build(step: int) -> tf.keras.Model:
        return zoo.get(args.model)(
            d.input_shape,
            d.num_classes,
            stem=d.stem,
            step=step,
            padding=args.padding,
            width_multiplier=args.width_multiplier,
        )

    options = dict(
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        clip_factor=args.clip_factor,
        teacher=args.teacher,
        strategy=strategy,
        steps_per_epoch=args.steps_per_epoch,
        validation_steps=args.validation_steps,
        verbose=args.verbose,
    )
    if args.step is None and not args.two_step:
        args.two_step = True  # the paper's recipe unless one step is asked for
    if args.two_step:
        results = training.two_step(
            build, d, epochs=args.epochs, folder=folder, init_from=args.init_from, **options
        )
    else:

        def build_one():
            model = build(args.step)
            if args.init_from:
                zoo.common.load_weights(model, args.init_from)
            return model

        results = (
            training.train_step(
                build_one,
                d,
                step=args.step,
                epochs=args.epochs,
                folder=os.path.join(folder, f"step{args.step}"),
                **options,
            ),
        )
    for result in results:
        print(
            f"step {result.step}     best val accuracy {result.best_val_accuracy:.4f} at epoch "
            f"{result.best_epoch}/{result.epochs}; {result.best_path}"
        )
    written = plots.write_plots(folder)
    print("plots      " + ", ".join(written))
    return 0
