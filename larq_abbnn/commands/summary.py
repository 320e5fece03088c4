"""`abbnn summary MODEL`: Larq's model summary of a zoo model."""

import argparse

import larq as lq

from larq_abbnn.commands.models import build_zoo_model


def run(args: argparse.Namespace) -> int:
    lq.models.summary(build_zoo_model(args.model, args))
    return 0
