"""Prints Larq's summary of a zoo model or a saved Keras model (e.g. a run's
step2/best.keras): layers, binary and full-precision parameters, memory."""

from __future__ import annotations

import argparse
import os

from abbnn import recipe
from abbnn.cli import options

HELP = "print Larq's summary of a zoo model or a saved Keras model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=True)


def check(args: argparse.Namespace) -> None:
    if args.model not in recipe.MODEL_NAMES:  # `zoo:` is optional here
        options.check_model_spec(args.model, args)


def run(args: argparse.Namespace) -> int:
    import larq as lq

    from abbnn.cli.loaders import load_model

    spec = args.model
    if spec in recipe.MODEL_NAMES and not os.path.exists(spec):  # `zoo:` is optional here
        spec = f"zoo:{spec}"
    lq.models.summary(load_model(spec, args))
    return 0
