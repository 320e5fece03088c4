"""Reads a torch.save checkpoint of the paper's released models (without PyTorch,
refusing any pickle code), fills the matching zoo model and saves it as a Keras model.
The output is written atomically."""

from __future__ import annotations

import argparse
import sys

from abbnn import recipe
from abbnn.inputs import require

HELP = "build a zoo model from one of the paper's PyTorch checkpoints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="the .pth/.pt/.h5 file saved by torch.save")
    parser.add_argument(
        "--model", required=True, choices=recipe.MODEL_NAMES, help="the checkpoint's network"
    )
    parser.add_argument(
        "--dataset",
        required=True,
        choices=sorted(recipe.CHECKPOINT_DATASETS),
        help="the dataset it was trained on (sets stem, classes and input size)",
    )
    parser.add_argument(
        "--step",
        type=int,
        choices=[1, 2],
        default=2,
        help="the training step it comes from (the paper releases step 2)",
    )
    parser.add_argument("-o", "--output", required=True, help="output .keras or .h5 file")


def check(args: argparse.Namespace) -> None:
    require(args.checkpoint, "checkpoint")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # installed with larq-compute-engine

    from larq_abbnn import zoo
    from larq_abbnn.checkpoints import load_official_checkpoint
    from larq_abbnn.files import atomic_path

    if not args.output.endswith((".keras", ".h5")):
        raise ValueError(f"output must end in .keras or .h5, got {args.output}")
    stem, classes, size = recipe.CHECKPOINT_DATASETS[args.dataset]
    stages = tqdm(total=3, unit="stage", disable=not sys.stderr.isatty())
    stages.set_description(f"import: building {args.model}")
    model = zoo.get(args.model)(
        input_shape=(size, size, 3),
        num_classes=classes,
        stem=stem,
        step=args.step,
        padding="reference",
    )
    stages.update()
    stages.set_description(f"import: reading {args.checkpoint}")
    report = load_official_checkpoint(model, args.checkpoint)
    stages.update()
    stages.set_description(f"import: saving {args.output}")
    with atomic_path(args.output) as tmp:  # same extension: Keras picks the format by it
        model.save(tmp)
    stages.update()
    stages.close()
    print(f"{report} ({args.dataset}, step {args.step})")
    print(f"wrote {args.output}")
    return 0
