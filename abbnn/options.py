"""Options several subcommands share, declared once (types, choices and defaults from
`abbnn.recipe`). Importing this module imports no TensorFlow."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from abbnn import recipe


def shape(text: str) -> tuple[int, int, int]:
    """`H,W,C` -> a tuple of three positive ints."""
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C integers, got {text!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W,C positive integers, got {text!r}")
    return dims


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a positive `kind` (int or float)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def add_network(parser: argparse.ArgumentParser) -> None:
    """How the zoo builds a network: padding and width (train, tune, and zoo:NAME models)."""
    parser.add_argument(
        "--padding",
        choices=recipe.PADDINGS,
        default="reference",
        help="reference: PyTorch's symmetric zeros (the paper's checkpoints); same: TF's; "
        "one: binary inputs padded with +1 (LCE's fastest binary conv)",
    )
    parser.add_argument(
        "--width-multiplier",
        type=positive(float),
        default=1.0,
        help="scale every layer's channels (1.0: the paper's network)",
    )
    parser.add_argument(
        "--alpha",
        type=positive(float),
        default=None,
        help="residual-branch scale of A&B and BN-Free models (default: the paper's, "
        "0.25 in A&B, 0.2 in BN-Free; the paper's ablation: 0.125)",
    )
    parser.add_argument(
        "--activation",
        choices=recipe.ACTIVATIONS,
        default=None,
        help="A&B ReActNets' RPReLU activation (default qprelu; leaky: the paper's "
        "fixed-slope 2^-3 ablation)",
    )


def network_options(args: argparse.Namespace) -> dict:
    """The zoo keyword arguments of `add_network`'s options; the ablations only when
    given (the models without them do not take them)."""
    options = {"padding": args.padding, "width_multiplier": args.width_multiplier}
    for name in ("alpha", "activation"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    return options


def add_model(parser: argparse.ArgumentParser, *, saved_models: bool, many: bool = False) -> None:
    """The model a command works on and how the zoo builds it.

    With `saved_models`, MODEL is `zoo:NAME` or a saved Keras model; otherwise a zoo name.
    With `many`, one or more of them (`args.models`).
    """
    if saved_models:
        parser.add_argument(
            "models" if many else "model",
            nargs="+" if many else None,
            help="zoo:NAME (e.g. zoo:ab_reactneta), or a .keras/.h5 file or SavedModel folder"
            + (", or a .tflite file; several side by side" if many else ""),
        )
    else:
        parser.add_argument("model", choices=recipe.MODEL_NAMES, help="zoo model name")
    add_zoo_build(
        parser,
        input_shape="224,224,3, or 32,32,3 with --stem cifar",
        num_classes="1000",
    )


def add_zoo_build(parser: argparse.ArgumentParser, *, input_shape: str, num_classes: str) -> None:
    """How the zoo builds a model: input, head, stem, step, padding, width, ablations;
    `input_shape` and `num_classes` say what the command uses when they are not given."""
    parser.add_argument(
        "--input-shape", type=shape, default=None, help=f"H,W,C (default {input_shape})"
    )
    parser.add_argument(
        "--num-classes",
        type=positive(int),
        default=None,
        help=f"classes of the head (default {num_classes})",
    )
    parser.add_argument(
        "--stem",
        choices=recipe.STEMS,
        default=None,
        help=f"first layers (default: cifar up to {recipe.SMALL_IMAGE} px)",
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=[1, 2],
        default=2,
        help="1: binary activations, real weights; 2: the binary network",
    )
    add_network(parser)


def add_data(parser: argparse.ArgumentParser) -> None:
    """The dataset and how it is read (train, tune, evaluate)."""
    parser.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100 or imagenet (tfds; CIFAR downloads, ImageNet needs "
        "--manual-dir), or folder:PATH (PATH/<class>/*.jpg, or PATH/train and PATH/test)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="tfds data directory (default: tfds's, ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--manual-dir", default=None, help="folder holding ImageNet's archives, for tfds"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="image folders without train/ and test/: validate on the last fraction of each class",
    )
    parser.add_argument(
        "--skip-corrupt", action="store_true", help="skip unreadable images instead of failing"
    )
    parser.add_argument(
        "--batch-size", type=positive(int), default=recipe.BATCH_SIZE, help="images per batch"
    )


def add_run(parser: argparse.ArgumentParser) -> None:
    """What `train` and `tune` share: network shape, run length, seed and verbosity."""
    add_network(parser)
    parser.add_argument(
        "--steps-per-epoch",
        type=positive(int),
        default=None,
        help="batches per epoch (default: one pass over the training split)",
    )
    parser.add_argument(
        "--validation-steps",
        type=positive(int),
        default=None,
        help="validation batches per epoch (default: the whole validation split)",
    )
    parser.add_argument("--seed", type=int, default=recipe.SEED, help="random seed")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        default=1,
        help="Keras's fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch",
    )
