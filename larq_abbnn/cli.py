"""The `abbnn` command line: long jobs and checks for A&B BNN models."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from larq_abbnn import __version__


def _shape(text: str) -> tuple[int, int, int]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C integers, got {text!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W,C positive integers, got {text!r}")
    return dims


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


#: `larq_abbnn.zoo.MODELS` keys, listed here so `abbnn --help` needs no TensorFlow import
#: (a test keeps the two equal).
MODEL_NAMES = (
    "ab_biresnet18",
    "ab_reactnet18",
    "ab_reactnet34",
    "ab_reactneta",
    "ab_xnornet18",
    "bnfree_reactnet18",
    "bnfree_reactneta",
)
#: `larq_abbnn.benchmark.KERNELS` keys, for the same reason.
KERNEL_NAMES = ("bgemm", "indirect_bgemm", "reference")


#: dataset -> (stem, classes, input size) of the paper's checkpoints
DATASETS = {
    "cifar10": ("cifar", 10, 32),
    "cifar100": ("cifar", 100, 32),
    "imagenet": ("imagenet", 1000, 224),
}


def _add_model_arguments(
    parser: argparse.ArgumentParser, default_model: str | None, any_model: bool = False
) -> None:
    if any_model:
        parser.add_argument(
            "model", help="zoo:NAME (e.g. zoo:ab_reactneta), or a .keras/.h5/SavedModel path"
        )
    else:
        parser.add_argument(
            "model" if default_model is None else "--model",
            default=default_model,
            choices=MODEL_NAMES,
            help="zoo model (names as in the paper's checkpoints)",
        )
    parser.add_argument("--input-shape", type=_shape, default=None, help="H,W,C")
    parser.add_argument("--num-classes", type=int, default=None)
    parser.add_argument("--stem", choices=["imagenet", "cifar"], default=None)
    parser.add_argument("--step", type=int, choices=[1, 2], default=2)
    parser.add_argument("--padding", choices=["reference", "same", "one"], default="reference")
    parser.add_argument(
        "--width-multiplier",
        type=_positive(float),
        default=1.0,
        help="scale every layer's channels (1.0: the paper's network)",
    )


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default="cifar10",
        help="cifar10, cifar100, imagenet (tfds), or folder:PATH (PATH/<class>/*.jpg)",
    )
    parser.add_argument("--data-dir", default=None, help="tfds data directory")
    parser.add_argument("--manual-dir", default=None, help="tfds manual dir (ImageNet archives)")
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="image folders without train/ and test/: last fraction of each class",
    )
    parser.add_argument("--skip-corrupt", action="store_true", help="skip unreadable images")
    parser.add_argument("--batch-size", type=_positive(int), default=256)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """What `train` and `tune` share: network shape, run length, seed and verbosity."""
    parser.add_argument("--padding", choices=["reference", "same", "one"], default="reference")
    parser.add_argument("--width-multiplier", type=_positive(float), default=1.0)
    parser.add_argument("--steps-per-epoch", type=_positive(int), default=None)
    parser.add_argument("--validation-steps", type=_positive(int), default=None)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abbnn",
        description="A&B BNN (CVPR 2024) for Larq: build, train, convert and check models.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"abbnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    summary = sub.add_parser("summary", help="print larq's summary of a zoo model")
    _add_model_arguments(summary, default_model=None)

    demo = sub.add_parser(
        "demo",
        help="build an A&B model, train it briefly, convert it with LCE and verify it",
        description=(
            "Builds a zoo model (CIFAR stem), trains a few steps, converts it with Larq "
            "Compute Engine, runs the TFLite file in LCE's interpreter next to Keras and "
            "reports agreement, op mix, size and latency."
        ),
    )
    _add_model_arguments(demo, default_model="ab_reactnet18")
    demo.add_argument("--steps", type=int, default=4, help="training steps (default 4)")
    demo.add_argument("--batch-size", type=int, default=16)
    demo.add_argument(
        "--images",
        default=None,
        help="image folder (one sub-folder per class); random data when omitted",
    )
    demo.add_argument("--output", default="runs/demo", help="folder for model.tflite")
    demo.add_argument("--seed", type=int, default=2023)
    conv = sub.add_parser(
        "convert",
        help="fold a model and convert it to an LCE TFLite file",
        description=(
            "Folds the model (mask layers removed, standardization, gains and alphas "
            "precomputed, Q-PReLU slopes frozen to powers of two) and converts it with "
            "Larq Compute Engine. The output is written atomically."
        ),
    )
    _add_model_arguments(conv, None, any_model=True)
    conv.add_argument("-o", "--output", required=True, help="output .tflite file")
    conv.add_argument("--verify", action="store_true", help="compare Keras, folded and TFLite")
    conv.add_argument("--verify-samples", type=int, default=256)
    conv.add_argument("--audit", action="store_true", help="count the file's multiplications")

    audit = sub.add_parser(
        "audit",
        help="count the multiplications of one inference (the paper's MO column)",
    )
    _add_model_arguments(audit, None, any_model=True)
    audit.add_argument(
        "--family",
        choices=["ab", "bnfree"],
        default=None,
        help="ab: powers of two are shifts; bnfree: all products count (default: detected)",
    )

    bench = sub.add_parser(
        "benchmark",
        help="latency, size and op mix of .tflite files (LCE interpreter), or of board logs",
        description=(
            "Runs each .tflite file in LCE's interpreter after warm-up and reports median "
            "and min latency, file size and op mix; --parse-log reads the output of TFLite's "
            "benchmark_model / LCE's lce_benchmark_model (e.g. from a Raspberry Pi) into the "
            "same table. The ratio column is relative to the first row."
        ),
    )
    bench.add_argument("models", nargs="*", help=".tflite files or zoo:NAME (converted here)")
    bench.add_argument("--threads", type=_positive(int), default=1)
    bench.add_argument("--runs", type=_positive(int), default=20)
    bench.add_argument(
        "--kernel",
        choices=KERNEL_NAMES,
        default="bgemm",
        help="LCE's binary conv kernel (lce_benchmark_model --use_indirect_bgemm / "
        "--use_reference_bconv); bgemm is LCE's default, indirect_bgemm is 5-6x faster on "
        "x86-64",
    )
    bench.add_argument(
        "--compare",
        action="store_true",
        help="add the BN-Free counterpart, larq-zoo QuickNets/BiRealNet and the "
        "full-precision network (TFLite+XNNPACK), timed in the same run",
    )
    bench.add_argument("--rounds", type=_positive(int), default=3, help="--compare rounds")
    bench.add_argument("--save-dir", default=None, help="--compare: keep the converted files")
    bench.add_argument("--input-shape", type=_shape, default=None, help="H,W,C for zoo:NAME")
    bench.add_argument("--parse-log", action="append", metavar="FILE", help="repeatable")
    bench.add_argument("--format", choices=["text", "markdown", "csv"], default="text")

    train = sub.add_parser(
        "train",
        help="train a zoo model with the paper's recipe (one step or both)",
        description=(
            "Trains with the paper's recipe: Adam with linear decay, step-1 weight decay, "
            "adaptive gradient clipping, optional distillation. The run folder (--output) "
            "holds per-step best/last .keras models, history.csv, TensorBoard logs and "
            "plots; the same command resumes an interrupted run."
        ),
    )
    _add_data_arguments(train)
    train.add_argument("--model", default="ab_reactnet18", choices=MODEL_NAMES)
    steps = train.add_mutually_exclusive_group()
    steps.add_argument(
        "--two-step", action="store_true", help="step 1, then step 2 from step 1's best model"
    )
    steps.add_argument("--step", type=int, choices=[1, 2], default=None, help="run one step")
    train.add_argument("--init-from", default=None, help="initial weights (.keras/.h5/.pth)")
    train.add_argument("--epochs", type=_positive(int), default=256, help="per step (256)")
    train.add_argument("--lr", type=_positive(float), default=1e-3)
    train.add_argument(
        "--weight-decay", type=float, default=None, help="L2 (default 5e-6 step 1, 0 step 2)"
    )
    train.add_argument(
        "--clip-factor", type=float, default=None, help="AGC (default 0.001 CIFAR, 0.02 ImageNet)"
    )
    train.add_argument("--teacher", default=None, help="saved Keras classifier to distill from")
    train.add_argument("--output", default=None, help="run folder (default runs/MODEL-DATASET)")
    train.add_argument(
        "--floatx",
        choices=["float32", "float64"],
        default="float32",
        help="Keras float type of models and data (float64: exact comparisons, slow)",
    )
    train.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multiworker", "tpu"],
        default="default",
        help="tf.distribute strategy (multiworker reads TF_CONFIG)",
    )
    _add_run_arguments(train)

    tune = sub.add_parser(
        "tune",
        help="keras-tuner search over lr, alpha, initial Q-PReLU exponent, weight decay",
        description=(
            "Random search with keras-tuner, objective validation accuracy. Trials are kept "
            "in --directory, so the same command resumes; keras-tuner's distributed mode "
            "(KERASTUNER_* variables, see the README) spreads trials over machines."
        ),
    )
    _add_data_arguments(tune)
    tune.add_argument("--model", default="ab_reactnet18", choices=MODEL_NAMES)
    tune.add_argument("--step", type=int, choices=[1, 2], default=1)
    tune.add_argument("--trials", type=_positive(int), default=10)
    tune.add_argument("--epochs", type=_positive(int), default=5, help="per trial")
    tune.add_argument("--directory", default="runs/tune", help="keras-tuner project folder")
    _add_run_arguments(tune)

    evaluate = sub.add_parser(
        "evaluate",
        help="top-1/top-5 accuracy of a Keras model or a .tflite file",
        description=(
            "Evaluates a .keras/.h5 model in Keras or a .tflite file in LCE's interpreter "
            "on the validation split, so the deployed file's accuracy is measured."
        ),
    )
    evaluate.add_argument("model", help=".keras/.h5 model or .tflite file")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--limit", type=_positive(int), default=None, help="at most N images")
    evaluate.add_argument(
        "--threads",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help="LCE interpreter threads for .tflite files (default: every core)",
    )
    evaluate.add_argument(
        "--kernel",
        choices=KERNEL_NAMES,
        default=None,
        help="LCE binary conv kernel for .tflite files (default: indirect_bgemm on x86-64, "
        "bgemm, which has ARM64 assembly, elsewhere)",
    )

    imp = sub.add_parser(
        "import-torch",
        help="build a zoo model from one of the paper's PyTorch checkpoints",
        description=(
            "Reads a torch.save checkpoint of the paper's released models (without "
            "PyTorch, refusing any pickle code), fills the matching zoo model and saves it "
            "as a Keras model."
        ),
    )
    imp.add_argument("checkpoint", help="the .pth/.pt/.h5 file saved by torch.save")
    imp.add_argument("--model", required=True, choices=MODEL_NAMES)
    imp.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    imp.add_argument("--step", type=int, choices=[1, 2], default=2)
    imp.add_argument("-o", "--output", required=True, help="output .keras or .h5 file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        # each subcommand lives in larq_abbnn.commands, imported only when used
        command = importlib.import_module(f"larq_abbnn.commands.{args.command.replace('-', '_')}")
        return command.run(args)
    except KeyboardInterrupt:
        print("abbnn: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line for users; --debug for the traceback
        if args.debug:
            raise
        lines = str(error).strip().splitlines() or [type(error).__name__]
        print(f"abbnn {args.command}: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:  # e.g. the offending keys of a checkpoint
            print(line, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
