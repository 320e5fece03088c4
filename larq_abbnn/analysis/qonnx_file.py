"""QONNX files read back: the analysis floor's reader, beside `tflite_file`'s."""

from __future__ import annotations

import os

from abbnn.inputs import require
from larq_abbnn.converters.extras import onnx_module as _onnx


def read_qonnx(path: str | os.PathLike):
    """A QONNX file as an `onnx.ModelProto`; a clear error for a missing, damaged or
    foreign file."""
    onnx = _onnx()
    path = os.fspath(path)
    require(path, "QONNX file")
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{path}: not a valid ONNX file ({type(error).__name__}: {first})"
        ) from None
    if len(proto.graph.input) != 1 or not proto.graph.node:
        raise ValueError(f"{path}: expected an ONNX graph with one input and nodes")
    return proto
