"""Trained Keras models to deployable files: `fold` rewrites the training graph into an
exactly equivalent inference graph; `convert` runs LCE's converter on it (a TFLite file,
for ARM boards), `to_qonnx` writes it as QONNX (an ONNX model, for FPGA flows); `verify`
checks that either file computes what the model computes (`formats`: one entry per file
format)."""

from larq_abbnn.converters.fold import FoldError, fold
from larq_abbnn.converters.lce import convert
from larq_abbnn.converters.qonnx_export import to_qonnx
from larq_abbnn.converters.verify import Verification, VerificationError, verify

__all__ = [
    "FoldError",
    "Verification",
    "VerificationError",
    "convert",
    "fold",
    "to_qonnx",
    "verify",
]
