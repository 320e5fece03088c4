"""`abbnn tune`: keras-tuner random search over the recipe's hyperparameters."""

from __future__ import annotations

import argparse
import math
import os

import tensorflow as tf

from larq_abbnn.commands.train import load_data
from larq_abbnn.files import write_json


def run(args: argparse.Namespace) -> int:
    from larq_abbnn.training.tune import RecipeHyperModel, search

    tf.keras.utils.set_random_seed(args.seed)
    d = load_data(args)
    steps = args.steps_per_epoch or max(1, math.ceil(d.train_examples / d.batch_size))
    hypermodel = RecipeHyperModel(
        args.model,
        d,
        step=args.step,
        epochs=args.epochs,
        steps_per_epoch=steps,
        width_multiplier=args.width_multiplier,
        padding=args.padding,
    )
    project = f"{args.model}-step{args.step}"
    tuner = search(
        hypermodel,
        trials=args.trials,
        directory=args.directory,
        project_name=project,
        validation_steps=args.validation_steps,
        seed=args.seed,
        verbose=args.verbose,
    )
    best = tuner.oracle.get_best_trials(1)[0]
    path = os.path.join(args.directory, project, "best_hyperparameters.json")
    write_json(path, {"val_accuracy": best.score, **best.hyperparameters.values})
    print(f"best trial {best.trial_id}: val_accuracy {best.score:.4f}")
    for name, value in best.hyperparameters.values.items():
        print(f"  {name} = {value}")
    print(f"written {path}")
    return 0
