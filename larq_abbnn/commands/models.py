"""Models named on the command line: zoo names or saved Keras models."""

from __future__ import annotations

import argparse
import os

import tensorflow as tf

from larq_abbnn import zoo


def build_zoo_model(name: str, args: argparse.Namespace) -> tf.keras.Model:
    """A zoo model from the shared `--input-shape/--num-classes/--stem/--step/--padding`."""
    kwargs = {
        "stem": args.stem,
        "step": args.step,
        "padding": args.padding,
        "width_multiplier": args.width_multiplier,
    }
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    return zoo.get(name)(input_shape=args.input_shape, **kwargs)


def load_model(spec: str, args: argparse.Namespace) -> tf.keras.Model:
    """`zoo:NAME` builds a zoo model; anything else is a `.keras`, `.h5` or SavedModel path."""
    if spec.startswith("zoo:"):
        return build_zoo_model(spec[len("zoo:") :], args)
    if not os.path.exists(spec):
        raise FileNotFoundError(f"model not found: {spec} (or use zoo:NAME)")
    if not (spec.endswith((".keras", ".h5")) or os.path.isdir(spec)):
        raise ValueError(f"{spec}: expected a .keras or .h5 file or a SavedModel folder")
    return tf.keras.models.load_model(spec, compile=False)
