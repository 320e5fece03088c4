"""A TFLite file's first subgraph as a graph of named ops, with the walks over it.

Ops are `Op` records (name, inputs, outputs, options), not positions in a tuple; the
audit's rules (what counts as a stem, a shortcut, a head) live in the audit.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import numpy as np
from larq_compute_engine.mlir.python import tflite_schema

from larq_abbnn.analysis.op_graph import OpGraph
from larq_abbnn.analysis.tflite_file import check_flatbuffer, opcode_names


class Op(NamedTuple):
    """One operator: its name (`CONV_2D`, `LceBconv2d`), tensor indices, and the
    flatbuffer operator (for its builtin options)."""

    name: str
    inputs: list[int]
    outputs: list[int]
    operator: object

    def options(self, table_class):
        """The op's builtin options as `table_class` (e.g. `Pool2DOptions`), or None."""
        table = self.operator.BuiltinOptions()
        if table is None:
            return None
        options = table_class()
        options.Init(table.Bytes, table.Pos)
        return options


#: Ops that only move data: walks through them find where a tensor comes from.
MOVES_DATA = {"PAD", "PADV2", "REVERSE_V2", "RESHAPE", "TRANSPOSE"}


class Graph(OpGraph):
    """The first subgraph of a TFLite file as ops and tensors, with the walks over it
    (producers, consumers, sources through data-movement ops, ancestors)."""

    MOVES_DATA = frozenset(MOVES_DATA)
    PREPROCESSES = frozenset({"CAST", "MUL", "ADD", "SUB"})

    def is_tensor(self, tensor) -> bool:
        return tensor >= 0

    def __init__(self, flatbuffer: bytes):
        check_flatbuffer(flatbuffer)
        self.model = tflite_schema.Model.GetRootAsModel(flatbuffer, 0)
        if self.model.SubgraphsLength() < 1:
            raise ValueError("TFLite file has no subgraph")
        self.graph = self.model.Subgraphs(0)
        self.opnames = opcode_names(self.model)
        self.tensor_count = self.graph.TensorsLength()
        self.ops = []
        for j in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(j)
            index = op.OpcodeIndex()
            if index >= len(self.opnames):
                raise ValueError(f"operator {j} has opcode index {index} out of range")
            inputs = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
            outputs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
            for t in inputs + outputs:
                if t >= self.tensor_count:
                    raise ValueError(f"operator {j} refers to tensor {t} of {self.tensor_count}")
            self.ops.append(Op(self.opnames[index], inputs, outputs, op))
        self.producer = {out: k for k, op in enumerate(self.ops) for out in op.outputs}
        self.consumers = defaultdict(list)
        for k, op in enumerate(self.ops):
            for t in op.inputs:
                if t >= 0:
                    self.consumers[t].append(k)
        self.graph_inputs = set(int(i) for i in self.graph.InputsAsNumpy())

    def tensor(self, index):
        return self.graph.Tensors(index)

    def shape(self, index):
        return [int(d) for d in self.tensor(index).ShapeAsNumpy()]

    def name(self, index) -> str:
        return self.tensor(index).Name().decode(errors="replace")

    def constant(self, index):
        tensor = self.tensor(index)
        buffer = tensor.Buffer()
        if buffer >= self.model.BuffersLength():
            raise ValueError(f"tensor {index} refers to buffer {buffer} out of range")
        data = self.model.Buffers(buffer).DataAsNumpy()
        if isinstance(data, int) or data is None or len(data) == 0:
            return None
        if tensor.Type() != tflite_schema.TensorType.FLOAT32:
            return None
        return np.frombuffer(data.tobytes(), dtype="<f4")

    def layer_name(self, output: int) -> str:
        """The Keras layers an op computes, from its tensor's name
        (`model/layer2.0.move1/add;model/layer2.0.extra/Conv2D` -> `layer2.0.move1+layer2.0.extra`:
        the converter fuses a bias into the conv before it), or the bare tensor name."""
        names = []
        for part in self.name(output).split(";"):
            pieces = part.split("/")
            if len(pieces) > 2 and pieces[1] not in names:
                names.append(pieces[1])
        return "+".join(names) or self.name(output)
