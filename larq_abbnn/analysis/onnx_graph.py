"""An ONNX (QONNX) graph as named ops, with the same walks as `tflite_graph.Graph`.

Tensors are ONNX's tensor names (not indices); the audit's rules for the QONNX dialect
read it as they read a TFLite graph.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from larq_abbnn.analysis.op_graph import OpGraph

#: Ops that only move data: walks through them find where a tensor comes from.
MOVES_DATA = {"Pad", "Reshape", "Transpose", "Flatten", "Identity"}


class Op(NamedTuple):
    """One node: its op type (`Conv`, `BipolarQuant`), tensor names, and the node."""

    name: str
    inputs: list[str]
    outputs: list[str]
    node: object

    def attribute(self, name: str, default=None):
        from onnx import helper

        for attribute in self.node.attribute:
            if attribute.name == name:
                return helper.get_attribute_value(attribute)
        return default


class Graph(OpGraph):
    """An `onnx.ModelProto`'s graph as ops and tensors, with the walks over it
    (producers, consumers, sources through data-movement ops, ancestors)."""

    MOVES_DATA = frozenset(MOVES_DATA)
    PREPROCESSES = frozenset({"Cast", "Mul", "Add", "Sub"})

    def is_tensor(self, tensor) -> bool:
        return bool(tensor)

    def __init__(self, proto):
        from onnx import numpy_helper

        graph = proto.graph
        self.ops = [Op(n.op_type, list(n.input), list(n.output), n) for n in graph.node]
        self.initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.graph_inputs = {v.name for v in graph.input} - set(self.initializers)
        self.shapes = {}
        for value in (*graph.input, *graph.value_info, *graph.output):
            dims = value.type.tensor_type.shape.dim
            self.shapes[value.name] = [d.dim_value for d in dims]
        for name, array in self.initializers.items():
            self.shapes[name] = list(array.shape)
        self.producer = {out: k for k, op in enumerate(self.ops) for out in op.outputs}
        self.consumers = defaultdict(list)
        for k, op in enumerate(self.ops):
            for t in op.inputs:
                if t:
                    self.consumers[t].append(k)

    def shape(self, tensor: str) -> list[int]:
        if tensor not in self.shapes:
            raise ValueError(f"tensor '{tensor}' has no shape: infer shapes first")
        return self.shapes[tensor]

    def constant(self, tensor: str):
        """A float initializer's values (flattened), or None."""
        value = self.initializers.get(tensor)
        if value is None or value.dtype.kind != "f":
            return None
        return value.ravel()

    def produced_by(self, tensor: str, op_name: str) -> bool:
        k = self.producer.get(tensor)
        return k is not None and self.ops[k].name == op_name
