"""Folded Keras models as QONNX files, for FPGA flows (FINN, hls4ml).

- `export`: the one NCHW export, a node (or a few) per folded layer;
- `passes`: other forms of the same function as qonnx `Transformation`s over it (+1
  padding for the XNOR-popcount code; hls4ml's channels-last dialect, which
  `hls4ml_flow` composes);
- `runtime`: qonnx's executor on a file, and shape inference.

`export_folded` composes them. QONNX is not part of the base install:
`pip install "larq-abbnn[onnx]"` (README, FPGA flows).
"""

from __future__ import annotations

import tensorflow as tf

from larq_abbnn.converters import contract
from larq_abbnn.converters.qonnx.export import (
    CHANNELS_LAST_DOMAIN,
    EXPORTS,
    OPSET,
    QONNX_DOMAIN,
    export_nchw,
)
from larq_abbnn.converters.qonnx.runtime import execute

__all__ = [
    "CHANNELS_LAST_DOMAIN",
    "EXPORTS",
    "OPSET",
    "QONNX_DOMAIN",
    "apply",
    "execute",
    "export_folded",
]


def export_folded(folded: tf.keras.Model, *, pad_binary_with_ones: bool = False, forms=()):
    """A model `fold` returned, as a QONNX `onnx.ModelProto` (`pipeline.convert(model,
    format="qonnx")`): the NCHW export, its record, then `forms` (qonnx `Transformation`
    instances, `passes`) in order. `pad_binary_with_ones` is the `PadBinaryWithOnes` form
    (for `qonnx_xnor`), applied first."""
    proto = export_nchw(folded)
    contract.add_to_onnx(proto, "NCHW", contract.input_pixels(folded))
    if pad_binary_with_ones:
        from larq_abbnn.converters.qonnx.passes import PadBinaryWithOnes

        forms = (PadBinaryWithOnes(), *forms)
    return apply(proto, forms)


def apply(proto, forms):
    """`proto` rewritten by each of `forms` (qonnx `Transformation`s) in turn."""
    if not forms:
        return proto
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(proto)
    for form in forms:
        model = model.transform(form, cleanup=False)
    return model.model
