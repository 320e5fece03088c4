"""Counts the multiplications of one inference, the paper's MO column, in a Keras model,
a converted .tflite file or a QONNX .onnx file: full-precision products, shifts (powers
of two in A&B models), binary-conv output scalings, fused BatchNorms, and what the
paper's rule excludes. An hls4ml project folder (abbnn convert --format hls4ml) is read
from its C++: each layer's product kind (multiplier, shift, XNOR-popcount) and hls4ml's
count of its multipliers. --energy prices the counts with published per-operation energy and area
(Horowitz, ISSCC 2014, 45 nm, or your own table), for several models side by side."""

from __future__ import annotations

import argparse

from abbnn import recipe
from abbnn.cli import options
from abbnn.inputs import require

HELP = "count the multiplications of one inference (the paper's MO column); --energy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=True, many=True)
    parser.add_argument(
        "--family",
        choices=recipe.FAMILY_NAMES,
        default=None,
        help="the counting rule: ab, powers of two are shifts; bnfree and bn (the "
        "baselines), all products count (default: detected from the graph)",
    )
    parser.add_argument(
        "--energy",
        action="store_true",
        help="also estimate energy and area x cycles per inference from per-operation "
        "figures (Horowitz, ISSCC 2014, 45 nm, unless --energy-table)",
    )
    parser.add_argument(
        "--energy-table",
        default=None,
        metavar="FILE",
        help='your own figures: JSON {"source": ..., "energy_pj": {"fp32_mul": ..., '
        '"int8_add": ...}, "area_um2": {...}}',
    )
    parser.add_argument(
        "--format", choices=["text", "markdown"], default="text", help="--energy table format"
    )


def check(args: argparse.Namespace) -> None:
    for spec in args.models:  # a file or folder of any format, or zoo:NAME
        options.check_model_spec(spec, args)
    if args.energy_table:
        require(args.energy_table, "energy table")


def run(args: argparse.Namespace) -> int:
    from abbnn.cli.loaders import load_model
    from abbnn.cli.options import refuse_zoo_options
    from larq_abbnn.analysis import converted, count_multiplications, energy, hls4ml_project
    from larq_abbnn.converters import formats

    costs = energy.HOROWITZ_45NM
    if args.energy_table:
        costs = energy.OperationCosts.from_json(args.energy_table)
    estimates = []
    for spec in args.models:
        if hls4ml_project.is_project(spec):
            _refuse_for_projects(spec, args)
            if len(args.models) > 1:
                print(f"== {spec}")
            print(hls4ml_project.read(spec).table())
            continue
        if spec.endswith(tuple(f.suffix for f in formats.FILE_FORMATS)):
            refuse_zoo_options(spec, args)
            model = converted.read(spec)
        else:
            model = load_model(spec, args)
        report = count_multiplications(model, family=args.family)
        if len(args.models) > 1:
            print(f"== {spec}")
        print(report.table())
        estimates.append(energy.estimate(report, costs, model=spec))
    if args.energy or args.energy_table:
        print()
        print(energy.table(estimates, args.format))
    return 0


def _refuse_for_projects(spec: str, args: argparse.Namespace) -> None:
    """An hls4ml project's table is its product kinds, not the paper's count: the options
    that set or price that count do not apply (silently ignoring them would mislead)."""
    from abbnn.cli.options import refuse_zoo_options

    refuse_zoo_options(spec, args)
    given = [f"--{name.replace('_', '-')}" for name in ("family", "energy", "energy_table")
             if getattr(args, name)]  # fmt: skip
    if given:
        raise ValueError(
            f"{spec} is an hls4ml project, read for its product kinds: {', '.join(given)} "
            "price the paper's count, which needs the model, its .tflite or its .onnx file"
        )
