"""What the command line names, loaded: zoo or saved models, datasets, tf.distribute
strategies. Imports TensorFlow: subcommands import this module when they run."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf

from abbnn.cli.options import check_model_spec, network_options
from abbnn.recipe import SEED
from larq_abbnn import data, zoo
from larq_abbnn.data import Data
from larq_abbnn.saved_models import load_keras_file


def build_zoo_model(name: str, args: argparse.Namespace) -> tf.keras.Model:
    """A zoo model from the shared `--input-shape/--num-classes/--stem/--step/--padding`."""
    options = {"stem": args.stem, **network_options(args)}
    for option in ("num_classes", "step"):
        if getattr(args, option, None) is not None:
            options[option] = getattr(args, option)
    return zoo.get(name)(input_shape=args.input_shape, **options)


def load_model(spec: str, args: argparse.Namespace) -> tf.keras.Model:
    """`zoo:NAME` builds a zoo model; anything else is a `.keras`, `.h5` or SavedModel path
    (for which the zoo's options are refused: the file fixes the network)."""
    if spec.startswith("zoo:"):
        return build_zoo_model(spec[len("zoo:") :], args)
    check_model_spec(spec, args)
    return load_keras_file(spec)


def check_zoo_options(args: argparse.Namespace) -> None:
    """Refuse `--alpha`, `--activation` or `--prelu-exponent` for a model that has no such
    thing (BN baselines have no alpha; only the A&B ReActNets have Q-PReLU), before the
    data is loaded or the run folder touched."""
    import inspect

    parameters = inspect.signature(zoo.get(args.model)).parameters
    for key in network_options(args):
        if key not in parameters:
            raise ValueError(f"--{key.replace('_', '-')} does not apply to {args.model}")
    exponent = getattr(args, "prelu_exponent", None)
    if exponent is not None and ("activation" not in parameters or args.activation == "leaky"):
        raise ValueError(
            f"--prelu-exponent applies to Q-PReLU slopes, which {args.model}"
            + (" with --activation leaky" if args.activation == "leaky" else "")
            + " does not have (the A&B ReActNets do)"
        )


def check_model_size(name: str, width_multiplier: float) -> None:
    """Refuse a width whose model would not fit in this machine's memory for training,
    before anything is built or written (TensorFlow would end in a raw out-of-memory)."""
    if width_multiplier <= 1:
        return
    parameters = zoo.estimated_parameters(name, width_multiplier)
    # float32 weights, their gradients and Adam's two moments: 16 bytes per parameter
    needed = 16 * parameters
    memory = _memory()
    if needed > memory:
        raise ValueError(
            f"--width-multiplier {width_multiplier:g} makes {name} about {parameters:.2g} "
            f"parameters: training needs at least {needed / 1e9:.3g} GB (weights, gradients "
            f"and Adam's moments), more than this machine's {memory / 1e9:.0f} GB"
        )


def _memory() -> int:
    """This machine's physical memory, in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_batch_size(d: Data) -> None:
    """Refuse a batch whose images alone would not fit in this machine's memory, before a
    batch is read (the trial: `evaluate --batch-size 100000000` ended after 93 s in a raw
    allocation error)."""
    needed = d.batch_size * d.image_size * d.image_size * 3 * 4  # float32 images
    memory = _memory()
    if needed > memory:
        raise ValueError(
            f"--batch-size {d.batch_size:,} makes one batch of {d.image_size} px images "
            f"{needed / 1e9:,.1f} GB, more than this machine's {memory / 1e9:.0f} GB"
        )


def load_data(args: argparse.Namespace) -> Data:
    """The dataset of the shared `--dataset/--data-dir/...` options, its batch checked
    against this machine's memory (`check_batch_size`)."""
    d = data.load(
        args.dataset,
        batch_size=args.batch_size,
        data_dir=args.data_dir,
        manual_dir=args.manual_dir,
        validation_fraction=args.val_fraction,
        skip_corrupt=args.skip_corrupt,
        seed=getattr(args, "seed", SEED),
    )
    check_batch_size(d)
    return d


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
