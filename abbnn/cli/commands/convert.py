"""Folds a model (mask layers removed, standardization, gains and alphas precomputed,
Q-PReLU slopes frozen to powers of two) and converts it: with Larq Compute Engine to a
.tflite file (ARM boards), or to a QONNX .onnx file (FPGA flows; the [onnx] extra). The
format follows the output's suffix; the file is written atomically."""

from __future__ import annotations

import argparse
import sys
import time

from abbnn.cli import options

#: fold.INPUT_PIXELS, written out: the CLI's options import nothing heavy
INPUT_PIXELS = ("normalized", "uint8")

HELP = "fold a model and convert it to an LCE .tflite or a QONNX .onnx file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    options.add_model(parser, saved_models=True)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file: .tflite (LCE) or .onnx (QONNX); the format follows the suffix",
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
        "--verify",
        action="store_true",
        help="check that the folded model (float64) and the file (float32; LCE's "
        "interpreter or qonnx's executor) compute what the Keras model computes",
    )
    parser.add_argument(
        "--verify-samples",
        type=options.positive(int),
        default=256,
        help="random inputs --verify compares on",
    )
    parser.add_argument(
        "--audit", action="store_true", help="count the file's multiplications (abbnn audit)"
    )


def run(args: argparse.Namespace) -> int:
    from abbnn.cli.loaders import load_model
    from larq_abbnn.analysis import converted as converted_files
    from larq_abbnn.analysis import count_multiplications
    from larq_abbnn.converters import fold_and_convert, formats, verify
    from larq_abbnn.files import atomic_write_bytes, check_writable

    target = formats.of_path(args.output)
    target.check_installed()
    check_writable(args.output)  # before the conversion's half minute, not after
    model = load_model(args.model, args)
    start = time.perf_counter()
    conversion = fold_and_convert(
        model,
        format=target.name,
        input_pixels=args.input_pixels,
        on_stage=lambda stage: print(f"convert    {stage} ...", flush=True),
    )
    converted = conversion.converted
    seconds = time.perf_counter() - start
    data = target.to_bytes(converted)
    atomic_write_bytes(args.output, data)
    ops = converted_files.op_counts(converted)
    print(
        f"wrote {args.output}: {len(data) / 1e6:.2f} MB ({target.name}), folded and converted "
        f"in {seconds:.1f} s"
    )
    print("ops: " + ", ".join(f"{name} {n}" for name, n in sorted(ops.items())))
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
