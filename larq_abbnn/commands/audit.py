"""`abbnn audit MODEL`: multiplications of one inference (the paper's MO column)."""

import argparse

from larq_abbnn.benchmark import read_tflite
from larq_abbnn.commands.models import load_model
from larq_abbnn.converters import count_multiplications


def run(args: argparse.Namespace) -> int:
    if args.model.endswith(".tflite"):
        report = count_multiplications(read_tflite(args.model, probe=False), family=args.family)
    else:
        report = count_multiplications(load_model(args.model, args), family=args.family)
    print(report.table())
    return 0
