"""Trained Keras models to deployable files: `fold` rewrites the training graph into an
exactly equivalent inference graph; `convert(model, format=...)` folds once and hands it to
the format's converter: LCE's for "tflite" (a file for ARM boards), the QONNX export for
"qonnx" (an ONNX model for FPGA flows; `to_qonnx` is its short name), hls4ml's for
"hls4ml" (an hls4ml project; `to_hls4ml`); `verify` checks that the converted model
computes what the model computes (`formats`: one entry per file format)."""

from larq_abbnn.converters.fold import FoldError, fold
from larq_abbnn.converters.pipeline import (
    Conversion,
    convert,
    fold_and_convert,
    to_hls4ml,
    to_qonnx,
)
from larq_abbnn.converters.verify import Verification, VerificationError, verify

__all__ = [
    "Conversion",
    "fold_and_convert",
    "FoldError",
    "Verification",
    "VerificationError",
    "convert",
    "fold",
    "to_hls4ml",
    "to_qonnx",
    "verify",
]
