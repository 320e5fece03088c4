"""Options several subcommands share, declared once (types, choices and defaults from
`abbnn.recipe`). Importing this module imports no TensorFlow."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from abbnn import recipe
from abbnn.inputs import require_saved_model


def shape(text: str) -> tuple[int, int, int]:
    """`H,W,C` -> a tuple of three positive ints."""
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C integers, got {text!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W,C positive integers, got {text!r}")
    return dims


def _bounded(kind: type, accepts: Callable[[float], bool], wanted: str) -> Callable[[str], float]:
    """An argparse type: a `kind` (int or float) for which `accepts(value)`; `wanted` says
    what is expected in the error (`nan` and `inf` fail every bound below)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    parse.__name__ = wanted
    return parse


def positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a positive, finite `kind` (int or float; `nan` and `inf` refused)."""
    return _bounded(kind, lambda v: 0 < v < math.inf, f"a positive finite {kind.__name__}")


def up_to(kind: type, most: int | float, what: str) -> Callable[[str], int | float]:
    """An argparse type: a positive `kind` of at most `most` (`what` says why, in the
    error), so that an absurd number is refused up front rather than failing late: the
    trial's `--width-multiplier 1e300` overflowed, `--epochs 1e12` was accepted."""
    return _bounded(
        kind, lambda v: 0 < v <= most, f"a positive {kind.__name__} up to {most:,} ({what})"
    )


#: The widest network the options take: 64 times the paper's channels is already 4,096
#: times its parameters (ReActNet-18: about 46 billion, 740 GB to train).
WIDEST = 64
#: The most epochs a step or trial takes (the paper's runs: 256 at most).
MOST_EPOCHS = 100_000

#: An argparse type: a finite float >= 0 (0 turns a term off).
non_negative = _bounded(float, lambda v: 0 <= v < math.inf, "a finite float >= 0")
#: An argparse type: a float strictly between 0 and 1.
fraction = _bounded(float, lambda v: 0 < v < 1, "a fraction between 0 and 1")


def add_network(parser: argparse.ArgumentParser, *, unset: bool = False) -> None:
    """How the zoo builds a network: padding and width (train, tune, and zoo:NAME models).

    With `unset` the options default to None (the zoo's defaults apply), so a command that
    also takes saved models can tell the options given from those left alone
    (`refuse_zoo_options`)."""
    zoo_only = "; zoo:NAME models only" if unset else ""
    parser.add_argument(
        "--padding",
        choices=recipe.PADDINGS,
        default=None if unset else "reference",
        help="reference: PyTorch's symmetric zeros (the paper's checkpoints); same: TF's; "
        "one: binary inputs padded with +1 (LCE's fastest binary conv)"
        + (f" (default: reference{zoo_only})" if unset else ""),
    )
    parser.add_argument(
        "--width-multiplier",
        type=up_to(float, WIDEST, "the paper's network is 1"),
        default=None if unset else 1.0,
        help="scale every layer's channels (1.0: the paper's network)"
        + (f" (default: 1.0{zoo_only})" if unset else ""),
    )
    parser.add_argument(
        "--alpha",
        type=positive(float),
        default=None,
        help="residual-branch scale of A&B and BN-Free models (default: the paper's, "
        f"0.25 in A&B, 0.2 in BN-Free; the paper's ablation: 0.125{zoo_only})",
    )
    parser.add_argument(
        "--activation",
        choices=recipe.ACTIVATIONS,
        default=None,
        help="A&B ReActNets' RPReLU activation (default qprelu; leaky: the paper's "
        f"fixed-slope 2^-3 ablation{zoo_only})",
    )
    parser.add_argument(
        "--power-of-two-scales",
        action="store_true",
        default=None,
        help="A&B ReActNets: round each binary conv's output scale to a power of two, a "
        f"shift on hardware (not the paper's; default off{zoo_only})",
    )


def network_options(args: argparse.Namespace) -> dict:
    """The zoo keyword arguments of `add_network`'s options that are set (the zoo's
    defaults apply to the others; the ablations only when given, as the models without
    them do not take them)."""
    names = ("padding", "width_multiplier", "alpha", "activation", "power_of_two_scales")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


#: The options that say how the zoo builds a `zoo:NAME` model: a saved model fixes them.
ZOO_OPTIONS = (
    "input_shape", "num_classes", "stem", "step", "padding", "width_multiplier", "alpha",
    "activation", "power_of_two_scales",
)  # fmt: skip


def refuse_zoo_options(spec: str, args: argparse.Namespace) -> None:
    """Raise `ValueError` if zoo-building options were given for a saved model `spec`
    (they would silently do nothing)."""
    given = [name for name in ZOO_OPTIONS if getattr(args, name, None) is not None]
    if given:
        named = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(
            f"{named} {'applies' if len(given) == 1 else 'apply'} to zoo:NAME models only: "
            f"{spec} is a saved model, whose file fixes {'it' if len(given) == 1 else 'them'}"
        )


def check_model_spec(spec: str, args: argparse.Namespace) -> None:
    """For a model argument that is not `zoo:NAME`: zoo options given for a saved model,
    then a saved model that is not there. Each command's `check` calls it before TensorFlow
    loads, and `loaders.load_model` for library-side calls."""
    if not spec.startswith("zoo:"):
        refuse_zoo_options(spec, args)
        require_saved_model(spec)


def zoo_name(text: str) -> str:
    """An argparse type: a zoo model as `zoo:NAME` (the spelling every command takes) or
    `NAME`."""
    return text[len("zoo:") :] if text.startswith("zoo:") else text


def add_model(parser: argparse.ArgumentParser, *, saved_models: bool, many: bool = False) -> None:
    """The model a command works on and how the zoo builds it.

    With `saved_models`, MODEL is `zoo:NAME` or a saved Keras model; otherwise a zoo model,
    `zoo:NAME` or `NAME`. With `many`, one or more of them (`args.models`).
    """
    if saved_models:
        parser.add_argument(
            "models" if many else "model",
            nargs="+" if many else None,
            help="zoo:NAME (e.g. zoo:ab_reactneta), or a .keras/.h5 file or SavedModel folder"
            + (", or a .tflite or .onnx (QONNX) file; several side by side" if many else ""),
        )
    else:
        parser.add_argument(
            "model",
            type=zoo_name,
            choices=recipe.MODEL_NAMES,
            metavar="zoo:NAME",
            help="zoo model: " + ", ".join(recipe.MODEL_NAMES) + " (zoo: optional)",
        )
    add_zoo_build(
        parser,
        input_shape="224,224,3, or 32,32,3 with --stem cifar",
        num_classes="1000",
        unset=saved_models,
    )


def add_zoo_build(
    parser: argparse.ArgumentParser, *, input_shape: str, num_classes: str, unset: bool = False
) -> None:
    """How the zoo builds a model: input, head, stem, step, padding, width, ablations;
    `input_shape` and `num_classes` say what the command uses when they are not given,
    `unset` as in `add_network`."""
    zoo_only = "; zoo:NAME models only" if unset else ""
    parser.add_argument(
        "--input-shape",
        type=shape,
        default=None,
        help=f"H,W,C (default {input_shape}{zoo_only})",
    )
    parser.add_argument(
        "--num-classes",
        type=positive(int),
        default=None,
        help=f"classes of the head (default {num_classes}{zoo_only})",
    )
    parser.add_argument(
        "--stem",
        choices=recipe.STEMS,
        default=None,
        help=f"first layers (default: cifar up to {recipe.SMALL_IMAGE} px{zoo_only})",
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=[1, 2],
        default=None if unset else 2,
        help="1: binary activations, real weights; 2: the binary network"
        + (f" (default: 2{zoo_only})" if unset else ""),
    )
    add_network(parser, unset=unset)


def add_data(parser: argparse.ArgumentParser, *, from_run: bool = False) -> None:
    """The dataset and how it is read (train, tune, evaluate). With `from_run`, --dataset
    and --val-fraction default to those of the run folder the model lies in."""
    run = "the run's when MODEL lies in a run folder, else " if from_run else ""
    parser.add_argument(
        "--dataset",
        default=None if from_run else "cifar10",
        help="cifar10, cifar100 or imagenet (tfds; CIFAR downloads, ImageNet needs "
        "--manual-dir), or folder:PATH (PATH/<class>/*.jpg, or PATH/train and PATH/test)"
        + (f" (default: {run}cifar10)" if from_run else ""),
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
        type=fraction,
        default=None if from_run else 0.1,
        help="image folders without train/ and test/: validate on the last fraction of each class"
        + (f" (default: {run}0.1)" if from_run else ""),
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
    parser.add_argument(
        "--prelu-exponent",
        type=int,
        default=None,
        help="initial Q-PReLU slope exponent L of A&B ReActNets, slope 2^L (default: the "
        "paper's -3 in train; tune searches -5 to -1 unless given)",
    )
    parser.add_argument("--seed", type=int, default=recipe.SEED, help="random seed")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=[0, 1, 2],
        default=1,
        help="Keras's fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch",
    )
