"""Folds a model (mask layers removed, standardization, gains and alphas precomputed,
Q-PReLU slopes frozen to powers of two) and converts it: with Larq Compute Engine to a
.tflite file (ARM boards), to a QONNX .onnx file (FPGA flows; the [onnx] extra), or to an
hls4ml project folder (--format hls4ml; the [fpga] extra). The format follows the output's
suffix or --format; the output is written atomically (complete, or not at all)."""

from __future__ import annotations

import argparse
import sys
import time

from abbnn.cli import options

#: fold.INPUT_PIXELS, written out: the CLI's options import nothing heavy
INPUT_PIXELS = ("normalized", "uint8")

#: formats.FORMATS' names, written out (as INPUT_PIXELS)
FORMATS = ("tflite", "qonnx", "hls4ml")
#: the hls4ml options: (flag, `hls4ml_flow.from_folded` keyword, default, choices)
HLS4ML_OPTIONS = (
    ("--hls4ml-precision", "precision", "fixed<48,24>", None),
    ("--hls4ml-io-type", "io_type", "io_stream", ("io_stream", "io_parallel")),
    ("--hls4ml-backend", "backend", "Vitis", ("Vitis", "Vivado")),
)

HELP = "fold a model and convert it to an LCE .tflite, a QONNX .onnx or an hls4ml project"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=True)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file: .tflite (LCE) or .onnx (QONNX), the format following the suffix; "
        "or, with --format hls4ml, the hls4ml project's folder (new, empty or an earlier "
        "hls4ml project, which is replaced)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="the output's format (default: from its suffix); hls4ml writes a project "
        "folder (its ONNX front end reads the QONNX export; --verify compiles its C++ "
        "emulation with g++)",
    )
    for flag, _, default, choices in HLS4ML_OPTIONS:
        parser.add_argument(
            flag,
            default=None,
            choices=choices,
            help=f"with --format hls4ml: hls4ml's {flag.split('-', 3)[-1].replace('-', '_')} "
            f"(default {default})",
        )
    parser.add_argument(
        "--input-pixels",
        choices=INPUT_PIXELS,
        default="normalized",
        help="what the file takes: normalized float32 images, as the Keras model "
        "(larq_abbnn.data.preprocess_input), or raw uint8 pixels in [0, 255], which the "
        "file normalizes itself (a cast, a multiply and an add before the first conv)",
    )
    parser.add_argument(
        "--pad-binary-with-ones",
        action="store_true",
        help="for .onnx: write each zero-padded binary conv as a conv of its +-1 input "
        "padded with +1 and an Add of what the +1s add, negated: the same function, in the "
        "form an XNOR-popcount code {0, 1} can hold (FINN: python -m abbnn.finn)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check that the folded model (float64) and the file (float32; LCE's "
        "interpreter, qonnx's executor or hls4ml's C++ emulation) compute what the Keras "
        "model computes",
    )
    parser.add_argument(
        "--verify-samples",
        type=options.positive(int),
        default=256,
        help="random inputs --verify compares on",
    )
    parser.add_argument(
        "--audit",
        action="store_true",
        help="count the file's multiplications (abbnn audit; for hls4ml, each layer's "
        "product kind in the C++)",
    )


def check(args: argparse.Namespace) -> None:
    options.check_model_spec(args.model, args)


def run(args: argparse.Namespace) -> int:
    from abbnn.cli.loaders import load_model
    from larq_abbnn.analysis import converted as converted_files
    from larq_abbnn.analysis import count_multiplications, hls4ml_project
    from larq_abbnn.converters import fold_and_convert, formats, verify

    target = formats.get(args.format) if args.format else formats.of_path(args.output)
    options = _format_options(target, args)
    target.check_installed()
    target.check_output(args.output)  # before the conversion's half minute, not after
    model = load_model(args.model, args)
    start = time.perf_counter()
    conversion = fold_and_convert(
        model,
        format=target.name,
        input_pixels=args.input_pixels,
        on_stage=lambda stage: print(f"convert    {stage} ...", flush=True),
        **options,
    )
    converted = conversion.converted
    seconds = time.perf_counter() - start
    size = target.save(converted, args.output)
    ops = converted_files.op_counts(converted)
    print(
        f"wrote {args.output}: {size / 1e6:.2f} MB ({target.name}), folded and converted "
        f"in {seconds:.1f} s"
    )
    print(("layers: " if target is formats.HLS4ML else "ops: ") + _counts(ops))
    binary = converted_files.binary_convs(converted)
    print(f"binary convs: {binary}")
    if binary == 0:  # the trial: a step-1 model converted to a full-precision file silently
        print(
            f"abbnn convert: warning: {args.output} has no binary convolution: the model "
            "computes in full precision (a step-1 model has real weights; convert the "
            "step-2 model of a run, RUN/step2/best.keras)",
            file=sys.stderr,
        )
    if args.audit:
        if target is formats.HLS4ML:
            print(hls4ml_project.read(args.output).table())
        else:
            print(count_multiplications(converted).table())
    if args.verify:
        result = verify(
            model,
            converted,
            folded=conversion.folded,  # the fold the file came from: not folded again
            samples=args.verify_samples,
            progress=sys.stderr.isatty(),
        )
        print(f"verify: {result}")
    return 0


def _format_options(target, args: argparse.Namespace) -> dict:
    """The converter's options from the command line; an error naming a flag the format
    does not take, before anything is loaded."""
    values = {
        keyword: getattr(args, flag[2:].replace("-", "_")) for flag, keyword, _, _ in HLS4ML_OPTIONS
    }
    given = {keyword: value for keyword, value in values.items() if value is not None}
    if args.pad_binary_with_ones and target.name != "qonnx":
        raise ValueError(f"--pad-binary-with-ones: only for a QONNX .onnx file, not {target.name}")
    if target.name != "hls4ml":
        if given:
            flags = [flag for flag, keyword, _, _ in HLS4ML_OPTIONS if keyword in given]
            raise ValueError(f"{', '.join(flags)}: only with --format hls4ml")
        return {"pad_binary_with_ones": True} if args.pad_binary_with_ones else {}
    if args.input_pixels != "normalized":
        raise ValueError(
            "--input-pixels uint8: hls4ml takes normalized float images (its ONNX front end "
            "has no Cast for a uint8 input)"
        )
    return {keyword: given.get(keyword, default) for _, keyword, default, _ in HLS4ML_OPTIONS}


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
