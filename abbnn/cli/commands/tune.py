"""Random search with keras-tuner over the learning rate, alpha (2^-2 or 2^-3), the
initial Q-PReLU exponent and step 1's weight decay; objective: validation accuracy.
Trials are kept in --directory, so the same command resumes; keras-tuner's distributed
mode (KERASTUNER_* variables, see the README) spreads trials over machines."""

from __future__ import annotations

import argparse
import math
import os

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require_dataset

#: What `abbnn: interrupted` adds (abbnn.cli).
INTERRUPTED = "rerun the same command to resume the search"
HELP = "keras-tuner search over lr, alpha, initial Q-PReLU exponent, weight decay"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_data(parser)
    parser.add_argument(
        "--model", default="ab_reactnet18", choices=recipe.MODEL_NAMES, help="zoo model"
    )
    parser.add_argument(
        "--step", type=int, choices=[1, 2], default=1, help="the recipe step the trials train"
    )
    parser.add_argument(
        "--trials", type=options.positive(int), default=10, help="trials to run in total"
    )
    parser.add_argument(
        "--epochs",
        type=options.up_to(int, options.MOST_EPOCHS, "the paper trains 256"),
        default=5,
        help="epochs per trial",
    )
    parser.add_argument("--directory", default="runs/tune", help="keras-tuner project folder")
    options.add_run(parser)


def train_options(values: dict) -> list[str]:
    """A trial's hyperparameters as the `abbnn train` options that set them."""
    spelled = {
        "learning_rate": lambda v: ["--lr", f"{v:g}"],
        "alpha_exponent": lambda v: ["--alpha", f"{2.0**v:g}"],
        "prelu_exponent": lambda v: ["--prelu-exponent", str(v)],
        "weight_decay": lambda v: ["--weight-decay", f"{v:g}"],
    }
    return [word for name, value in values.items() for word in spelled[name](value)]


#: The options that change what a search's trials train (--trials adds trials, --verbose
#: and the data's location do not change them).
_COMPARED = (
    "model", "step", "epochs", "dataset", "val_fraction", "batch_size", "padding",
    "width_multiplier", "alpha", "activation", "power_of_two_scales", "steps_per_epoch",
    "validation_steps",
    "prelu_exponent", "seed",
)  # fmt: skip


def _recorded(args: argparse.Namespace) -> dict:
    """What the search folder's run.json records, by option name (`--width-multiplier`)."""
    return {"--" + name.replace("_", "-"): getattr(args, name) for name in _COMPARED}


def check(args: argparse.Namespace) -> None:
    require_dataset(args.dataset)


def run(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from abbnn.cli.loaders import check_model_size, check_zoo_options, load_data
    from larq_abbnn.files import check_writable, write_json
    from larq_abbnn.training import RunFolder
    from larq_abbnn.training.tune import RecipeHyperModel, is_worker, search

    check_zoo_options(args)
    check_model_size(args.model, args.width_multiplier)
    project = f"{args.model}-step{args.step}"
    # keras-tuner reloads a project folder whatever the options (the trial: a rerun at
    # another width and batch size reported the old trial as best, training nothing), so
    # its options are recorded there and a rerun with others is refused, as train does
    search_folder = RunFolder(os.path.join(args.directory, project))
    check_writable(search_folder.config_path)  # before the data is read
    recorded = _recorded(args)
    search_folder.check(recorded, folder_option="--directory")
    tf.keras.utils.set_random_seed(args.seed)
    d = load_data(args)
    steps = args.steps_per_epoch or max(1, math.ceil(d.train_examples / d.batch_size))
    hypermodel = RecipeHyperModel(
        args.model,
        d,
        step=args.step,
        epochs=args.epochs,
        steps_per_epoch=steps,
        prelu_exponent=args.prelu_exponent,
        **options.network_options(args),
    )
    search_folder.start(recorded)
    tuner = search(
        hypermodel,
        trials=args.trials,
        directory=args.directory,
        project_name=project,
        validation_steps=args.validation_steps,
        seed=args.seed,
        verbose=args.verbose,
    )
    if is_worker():  # the chief holds the oracle: it reports the search's best
        ran = [t for t in os.listdir(tuner.project_dir) if t.startswith("trial_")]
        print(f"worker {tuner.tuner_id}: {len(ran)} trials run; the chief reports the best")
        return 0
    best = tuner.oracle.get_best_trials(1)[0]
    path = os.path.join(args.directory, project, "best_hyperparameters.json")
    write_json(path, {"val_accuracy": best.score, **best.hyperparameters.values})
    # keras-tuner numbers trials from 1 on screen ("Trial #1") and from 0 in folders
    number = int(best.trial_id) + 1
    print(
        f"best trial #{number} ({tuner.get_trial_dir(best.trial_id)}): "
        f"val top-1 {100 * best.score:.2f}%"
    )
    for name, value in best.hyperparameters.values.items():
        print(f"  {name} = {value}")
    print("as abbnn train options: " + " ".join(train_options(best.hyperparameters.values)))
    print(f"written {path}")
    return 0
