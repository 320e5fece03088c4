"""The walks a converted file's op graph shares across formats (`tflite_graph.Graph`,
`onnx_graph.Graph`): where a tensor comes from through data-movement ops, what it is
computed from. A subclass sets `ops` (records with `name`, `inputs`, `outputs`),
`producer` (tensor -> op index), `graph_inputs`, `MOVES_DATA`, `PREPROCESSES`,
`constant(tensor)` and `is_tensor(tensor)` (TFLite marks an omitted input -1, ONNX "")."""

from __future__ import annotations


class OpGraph:
    MOVES_DATA: frozenset = frozenset()
    #: the ops of an input normalization: cast, multiply, add (names per format)
    PREPROCESSES: frozenset = frozenset()

    def is_tensor(self, tensor) -> bool:
        raise NotImplementedError

    def constant(self, tensor):
        raise NotImplementedError

    def constants(self, tensors) -> list:
        """The float constants among `tensors`, each read once."""
        values = (self.constant(t) for t in tensors)
        return [v for v in values if v is not None]

    def from_input(self, tensor) -> bool:
        """Whether `tensor` is the graph input, through data-movement ops and the input's
        normalization (`PREPROCESSES`: a cast, products and sums with constants; a file
        converted with `input_pixels="uint8"` normalizes its pixels first)."""
        while True:
            tensor = self.source(tensor)
            if tensor in self.graph_inputs:
                return True
            k = self.producer.get(tensor)
            if k is None or not self.preprocesses(self.ops[k]):
                return False
            tensor = self.ops[k].inputs[0]

    def preprocesses(self, op) -> bool:
        """Whether `op` is a cast, or a product or sum of its first input and constants."""
        if op.name not in self.PREPROCESSES:
            return False
        others = [t for t in op.inputs[1:] if self.is_tensor(t)]
        return len(self.constants(others)) == len(others)

    def source(self, tensor, through=None):
        """The tensor `tensor` is computed from through data-movement ops only (`through`,
        default `MOVES_DATA`)."""
        through = self.MOVES_DATA if through is None else through
        while tensor not in self.graph_inputs:
            k = self.producer.get(tensor)
            if k is None or self.ops[k].name not in through:
                break
            tensor = self.ops[k].inputs[0]
        return tensor

    def ancestors(self, tensor) -> set:
        """Every tensor `tensor` is computed from (itself included)."""
        seen, stack = set(), [tensor]
        while stack:
            t = stack.pop()
            if t in seen or not self.is_tensor(t):
                continue
            seen.add(t)
            k = self.producer.get(t)
            if k is not None:
                stack.extend(self.ops[k].inputs)
        return seen
