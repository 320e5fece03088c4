"""Converted files of any format (`converters.formats`): read one back, count its ops."""

from __future__ import annotations

import os
from collections import Counter

from larq_abbnn.analysis import onnx_graph
from larq_abbnn.analysis.audit import QONNX
from larq_abbnn.analysis.tflite_file import op_counts as tflite_op_counts
from larq_abbnn.analysis.tflite_file import read_tflite
from larq_abbnn.converters import formats


def read(path: str | os.PathLike):
    """A converted file by its suffix: TFLite bytes or an `onnx.ModelProto`; a clear error
    for a missing, damaged or foreign file."""
    target = formats.of_path(path)
    if target is formats.TFLITE:
        return read_tflite(path, probe=False)
    from larq_abbnn.analysis.qonnx_file import read_qonnx

    return read_qonnx(path)


def op_counts(converted) -> dict[str, int]:
    """{op name: count} of TFLite bytes or a QONNX `onnx.ModelProto`; {layer class: count}
    of an hls4ml model."""
    target = formats.of_converted(converted)
    if target is formats.TFLITE:
        return tflite_op_counts(converted)
    if target is formats.HLS4ML:
        return dict(Counter(layer.class_name for layer in converted.get_layers()))
    return dict(Counter(node.op_type for node in converted.graph.node))


def binary_convs(converted) -> int:
    """The binary convolutions (binary inputs and weights: XNOR-popcount on hardware) of
    TFLite bytes (LCE's `LceBconv2d`) or a QONNX `onnx.ModelProto` (a `Conv` whose weights
    and input, through padding, are `BipolarQuant` outputs). The shortcuts' binary-weight
    convs of real inputs are not among them, in either format. In an hls4ml model: a conv
    whose input and weights are both hls4ml's 1-bit XNOR type (its `both_binary` product)."""
    target = formats.of_converted(converted)
    if target is formats.TFLITE:
        return tflite_op_counts(converted).get("LceBconv2d", 0)
    if target is formats.HLS4ML:
        return sum(1 for layer in converted.get_layers() if _hls4ml_binary_conv(layer))
    g = onnx_graph.Graph(converted)
    return sum(
        1
        for op in g.ops
        if QONNX.is_binary_conv(g, op) and g.produced_by(g.source(op.inputs[0]), "BipolarQuant")
    )


def _hls4ml_binary_conv(layer) -> bool:
    from hls4ml.model.types import XnorPrecisionType

    weight = layer.weights.get("weight")
    return (
        "Conv" in layer.class_name
        and weight is not None
        and isinstance(weight.type.precision, XnorPrecisionType)
        and isinstance(layer.get_input_variable().type.precision, XnorPrecisionType)
    )
