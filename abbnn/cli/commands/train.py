"""Trains with the paper's recipe: Adam with linear decay, step-1 weight decay, adaptive
gradient clipping, optional distillation; step 1, then step 2 from step 1's best model,
unless --step picks one. The run folder (--output) holds per-step best/last .keras
models, history.csv, TensorBoard logs and plots; the same command resumes an interrupted
run."""

from __future__ import annotations

import argparse
import os

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require, require_dataset

HELP = "train a zoo model with the paper's recipe (both steps, or one)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_data(parser)
    parser.add_argument(
        "--model", default="ab_reactnet18", choices=recipe.MODEL_NAMES, help="zoo model"
    )
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument(
        "--two-step",
        action="store_true",
        help="step 1, then step 2 from step 1's best model (what runs without --step)",
    )
    steps.add_argument("--step", type=int, choices=[1, 2], default=None, help="run only this step")
    parser.add_argument(
        "--init-from",
        default=None,
        help="initial weights: a Keras model/weights file or a paper checkpoint (.pth/.h5)",
    )
    parser.add_argument(
        "--epochs",
        type=options.up_to(int, options.MOST_EPOCHS, "the paper trains 256"),
        default=recipe.EPOCHS,
        help="epochs per step",
    )
    parser.add_argument(
        "--lr",
        type=options.positive(float),
        default=recipe.LEARNING_RATE,
        help="Adam's initial learning rate, decayed linearly to 0",
    )
    parser.add_argument(
        "--weight-decay",
        type=options.non_negative,
        default=None,
        help=f"L2 added to the gradient (default {recipe.STEP1_WEIGHT_DECAY:g} in step 1, "
        "0 in step 2)",
    )
    clip = ", ".join(f"{factor:g} {stem}" for stem, factor in recipe.CLIP_FACTOR.items())
    parser.add_argument(
        "--clip-factor",
        type=options.non_negative,
        default=None,
        help=f"adaptive gradient clipping factor (default by stem: {clip}; 0 turns it off)",
    )
    parser.add_argument("--teacher", default=None, help="saved Keras classifier to distill from")
    parser.add_argument("--output", default=None, help="run folder (default runs/MODEL-DATASET)")
    parser.add_argument(
        "--floatx",
        choices=["float32", "float64"],
        default="float32",
        help="Keras float type of models and data (float64: exact comparisons, slow)",
    )
    parser.add_argument(
        "--strategy",
        choices=recipe.STRATEGIES,
        default="default",
        help="tf.distribute strategy: mirrored uses every GPU (or CPU), multiworker reads "
        "TF_CONFIG",
    )
    options.add_run(parser)


#: What `abbnn: interrupted` adds (abbnn.cli).
INTERRUPTED = "rerun the same command to resume from the last finished epoch"


#: run.json's keys that are not named after an option of this command, as a refusal says them
_NAMES = {
    "learning_rate": "--lr",
    "num_classes": "the dataset's classes",
    "image_size": "the dataset's image size",
    "validation_examples": "validation images",
    "validation_split": "the validation split",
}


def check(args: argparse.Namespace) -> None:
    require_dataset(args.dataset)
    if args.init_from:
        require(args.init_from, "initial weights")
    if args.teacher:
        require(args.teacher, "teacher model")


def run(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from abbnn.cli.loaders import check_model_size, check_zoo_options, load_data, make_strategy
    from larq_abbnn import training
    from larq_abbnn.files import check_writable
    from larq_abbnn.training import plots

    check_zoo_options(args)
    check_model_size(args.model, args.width_multiplier)
    folder = args.output or _default_folder(args)
    run_folder = training.RunFolder(folder)
    check_writable(run_folder.config_path)  # before the data is read and step 1 starts
    strategy = make_strategy(args.strategy)
    tf.keras.utils.set_random_seed(args.seed)
    tf.keras.backend.set_floatx(args.floatx)  # before the data and models are built
    d = load_data(args)
    recipe = _recipe(args)
    config = _recorded(args, d, recipe)
    names = {**{key: "--" + key.replace("_", "-") for key in config}, **_NAMES}
    run_folder.check(config, names)  # other options are refused before anything is touched
    print(
        f"train      {args.model} (width x{args.width_multiplier:g}) on {args.dataset}: "
        f"{d.train_examples:,} train / {d.validation_examples:,} validation images, "
        f"{d.num_classes} classes, {d.image_size}px, {strategy.num_replicas_in_sync} "
        f"replica(s); run folder {folder}"
    )
    training.train(
        _builder(args, d),
        d,
        steps=(1, 2) if args.step is None else (args.step,),  # the paper's recipe by default
        epochs=args.epochs,
        folder=folder,
        init_from=args.init_from,
        config=config,
        names=names,
        recipe=recipe,
        strategy=strategy,
        verbose=args.verbose,
    )
    print("plots      writing the training curves and the last step's Q-PReLU slopes ...")
    print("plots      " + ", ".join(plots.write_plots(folder)))
    return 0


def _default_folder(args: argparse.Namespace) -> str:
    """`runs/MODEL-DATASET`, the dataset by its name or its folder's."""
    dataset = args.dataset.replace("folder:", "").rstrip("/").split("/")[-1]
    return os.path.join("runs", f"{args.model}-{dataset}")


def _recipe(args: argparse.Namespace):
    from larq_abbnn.training import Recipe

    return Recipe(
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        clip_factor=args.clip_factor,
        teacher=args.teacher,
        steps_per_epoch=args.steps_per_epoch,
        validation_steps=args.validation_steps,
    )


def _recorded(args: argparse.Namespace, d, recipe) -> dict:
    """What run.json records: the zoo options that build the model, the data and the
    recipe (`training.run_config`)."""
    from larq_abbnn import training

    steps = [1, 2] if args.step is None else [args.step]
    return {
        "model": args.model,
        "padding": args.padding,
        "width_multiplier": args.width_multiplier,
        "alpha": args.alpha,
        "activation": args.activation,
        "power_of_two_scales": bool(args.power_of_two_scales),
        "prelu_exponent": args.prelu_exponent,
        "floatx": args.floatx,
        "seed": args.seed,
        "val_fraction": args.val_fraction if args.dataset.startswith("folder:") else None,
        **training.run_config(d, args.epochs, steps=steps, init_from=args.init_from, recipe=recipe),
    }


def _builder(args: argparse.Namespace, d):
    """`build(step)`: the zoo model of a step on the data, as asked."""
    from larq_abbnn import training, zoo

    def build(step: int):
        model = zoo.get(args.model)(
            input_shape=d.input_shape,
            num_classes=d.num_classes,
            stem=d.stem,
            step=step,
            **options.network_options(args),
        )
        if args.prelu_exponent is not None:
            training.set_prelu_exponent(model, args.prelu_exponent)
        return model

    return build
