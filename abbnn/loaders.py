"""What the command line names, loaded: zoo or saved models, datasets, tf.distribute
strategies. Imports TensorFlow: subcommands import this module when they run."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf

from abbnn.options import network_options
from abbnn.recipe import SEED
from larq_abbnn import data, zoo
from larq_abbnn.data import Data


def build_zoo_model(name: str, args: argparse.Namespace) -> tf.keras.Model:
    """A zoo model from the shared `--input-shape/--num-classes/--stem/--step/--padding`."""
    options = {"stem": args.stem, "step": args.step, **network_options(args)}
    if args.num_classes is not None:
        options["num_classes"] = args.num_classes
    return zoo.get(name)(input_shape=args.input_shape, **options)


def load_model(spec: str, args: argparse.Namespace) -> tf.keras.Model:
    """`zoo:NAME` builds a zoo model; anything else is a `.keras`, `.h5` or SavedModel path."""
    if spec.startswith("zoo:"):
        return build_zoo_model(spec[len("zoo:") :], args)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"model not found: {spec} (or use zoo:NAME)")
    if not (spec.endswith((".keras", ".h5")) or os.path.isdir(spec)):
        raise ValueError(f"{spec}: expected a .keras or .h5 file or a SavedModel folder")
    return tf.keras.models.load_model(spec, compile=False)


def load_data(args: argparse.Namespace) -> Data:
    """The dataset of the shared `--dataset/--data-dir/...` options."""
    return data.load(
        args.dataset,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        validation_fraction=args.val_fraction,
        skip_corrupt=args.skip_corrupt,
        seed=getattr(args, "seed", SEED),
    )


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
