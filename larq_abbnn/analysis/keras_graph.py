"""A Keras model's layer graph as an `OpGraph`, so that the audit's structural rules (the
paper's exemptions: the shortcut conv, the PReLUs outside the blocks, the first conv) are
written once for Keras and the converted files.

One op per layer (input layers are the graph's inputs); a tensor is the name of the layer
that computes it. An op's `name` is its kind as the audit's dialects call it (`KINDS`:
the first class the layer is an instance of), and `layer` the layer itself."""

from __future__ import annotations

from collections import namedtuple

import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.analysis.op_graph import OpGraph
from larq_abbnn.graph import inbound_layers

#: Keras layers that move data and compute nothing, as the file dialects' MOVES_DATA
MOVES_DATA_LAYERS = (
    tf.keras.layers.ZeroPadding2D,
    tf.keras.layers.Cropping2D,
    tf.keras.layers.Reshape,
    tf.keras.layers.Permute,
)
#: layer class -> the op kind the graph calls it, the first class a layer is an instance of
KINDS = (
    (tf.keras.layers.Add, "Add"),
    (tf.keras.layers.AveragePooling2D, "AveragePool"),
    (tf.keras.layers.GlobalAveragePooling2D, "GlobalAveragePool"),
    (tf.keras.layers.PReLU, "PRelu"),
    (layers.PixelNormalization, "PixelNormalization"),
    (tf.keras.layers.Conv2D, "Conv"),
    *((layer, "MovesData") for layer in MOVES_DATA_LAYERS),
)


#: One layer as an op: its kind, the tensors (layer names) it reads and writes, the layer.
Op = namedtuple("Op", "name inputs outputs layer")


def kind(layer) -> str:
    """The op kind of `layer` (`KINDS`), else its class name."""
    return next((name for cls, name in KINDS if isinstance(layer, cls)), type(layer).__name__)


class Graph(OpGraph):
    MOVES_DATA = frozenset({"MovesData"})
    #: the input's normalization inside the model (`fold(model, input_pixels="uint8")`)
    PREPROCESSES = frozenset({"PixelNormalization"})

    def __init__(self, model: tf.keras.Model):
        self.ops: list[Op] = []
        self.producer: dict[str, int] = {}
        self.consumers: dict[str, list[int]] = {}
        self.graph_inputs: set[str] = set()
        for layer in model.layers:
            if isinstance(layer, tf.keras.layers.InputLayer):
                self.graph_inputs.add(layer.name)
                continue
            inputs = [source.name for source in inbound_layers(layer)]
            self.producer[layer.name] = len(self.ops)
            for tensor in inputs:
                self.consumers.setdefault(tensor, []).append(len(self.ops))
            self.ops.append(Op(kind(layer), inputs, [layer.name], layer))
        for op in self.ops:
            self.consumers.setdefault(op.outputs[0], [])
        self.index = {op.layer.name: k for k, op in enumerate(self.ops)}

    def is_tensor(self, tensor) -> bool:
        return bool(tensor)

    def constant(self, tensor):
        return None  # a Keras layer holds its weights; no tensor is a constant

    def op(self, layer) -> Op:
        return self.ops[self.index[layer.name]]
