"""The hardware step of a QONNX export: binary convs as XNOR-popcount matrix products.

qonnx's `ConvertBipolarMatMulToXnorPopcount` turns a `MatMul` of two bipolar (+-1)
tensors into `XnorPopcountMatMul` on their {0, 1} codes, then `2 * popcount - K`. It
takes what FINN's front end leaves, so `to_xnor_popcount` first writes the export in
that form, with qonnx's own transforms where it has them:

1. a binary kernel `BipolarQuant(W, 1)` becomes its +-1 constant, typed BIPOLAR;
2. a sign `BipolarQuant(x, 1)` becomes `MultiThreshold(x, 0)` with out_scale 2 and
   out_bias -1 (+1 for x >= 0, else -1: the same sign), typed BIPOLAR;
3. qonnx's `LowerConvsToMatMul` (Im2Col + MatMul in NHWC), `InferDataTypes`, and the
   transform itself.

The {0, 1} code has no zero, so a binary conv that pads its +-1 input with zeros
(the reference's padding) cannot be converted exactly: export with
`to_qonnx(model, pad_binary_with_ones=True)`, which pads with +1 and subtracts what
that adds (the same function). `to_xnor_popcount` refuses a zero-padded binary conv.
The result runs in qonnx's executor one image at a time (the lowering fixes batch 1).
"""

from __future__ import annotations

import numpy as np

from larq_abbnn.converters.extras import onnx_module as _onnx
from larq_abbnn.converters.qonnx.export import QONNX_DOMAIN


def to_xnor_popcount(proto):
    """A copy of a QONNX export with every binary conv (bipolar input and weights) as
    qonnx's `XnorPopcountMatMul`; `ValueError` for a binary conv padded with zeros."""
    onnx = _onnx()
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    model = ModelWrapper(copy)
    graph = model.graph
    for node in list(graph.node):
        if node.op_type != "BipolarQuant":
            continue
        source = node.input[0]
        if model.get_initializer(source) is not None:  # a binary kernel: its +-1 constant
            for consumer in model.find_consumers(node.output[0]):
                consumer.input[list(consumer.input).index(node.output[0])] = source
            model.set_initializer(source, np.where(model.get_initializer(source) >= 0, 1, -1)
                                  .astype(np.float32))  # fmt: skip
            model.set_tensor_datatype(source, DataType["BIPOLAR"])
            graph.node.remove(node)
            continue
        _refuse_zero_padding(model, node)
        threshold = node.output[0] + ".threshold"
        model.set_initializer(threshold, np.zeros((1, 1), np.float32))
        sign = onnx.helper.make_node(
            "MultiThreshold",
            [source, threshold],
            list(node.output),
            name=node.name,
            domain=QONNX_DOMAIN,
            out_dtype="BIPOLAR",
            out_scale=2.0,
            out_bias=-1.0,
        )
        graph.node.insert(list(graph.node).index(node), sign)
        graph.node.remove(node)
    model = model.transform(InferShapes()).transform(InferDataTypes())
    model = model.transform(LowerConvsToMatMul()).transform(InferDataTypes())
    model = model.transform(ConvertBipolarMatMulToXnorPopcount())
    return model.model


def _refuse_zero_padding(model, sign) -> None:
    for consumer in model.find_consumers(sign.output[0]):
        pads = next((list(a.ints) for a in consumer.attribute if a.name == "pads"), [])
        if consumer.op_type == "Conv" and any(pads):
            raise ValueError(
                f"binary conv '{consumer.name}' pads its +-1 input with zeros, which the "
                "XNOR-popcount code {0, 1} cannot hold: export with "
                "to_qonnx(model, pad_binary_with_ones=True)"
            )
