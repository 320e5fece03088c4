"""`abbnn summary MODEL`: Larq's model summary of a zoo model."""

import argparse

import larq as lq

from larq_abbnn import zoo


def build_model(args: argparse.Namespace):
    """A zoo model from the shared `--input-shape/--num-classes/--stem/--step/--padding`."""
    kwargs = {"stem": args.stem, "step": args.step, "padding": args.padding}
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    return zoo.get(args.model)(input_shape=args.input_shape, **kwargs)


def run(args: argparse.Namespace) -> int:
    model = build_model(args)
    lq.models.summary(model)
    return 0
