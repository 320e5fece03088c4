"""Prints Larq's summary of a zoo model: layers, binary and full-precision parameters,
memory."""

from __future__ import annotations

import argparse

from abbnn.cli import options

HELP = "print Larq's summary of a zoo model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=False)


def run(args: argparse.Namespace) -> int:
    import larq as lq

    from abbnn.cli.loaders import build_zoo_model

    lq.models.summary(build_zoo_model(args.model, args))
    return 0
