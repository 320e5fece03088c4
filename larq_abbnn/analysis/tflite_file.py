"""TFLite files: reading and checking them with the flatbuffer schema LCE ships, their op
graph, and the LCE interpreter options that run them.

The one place that decodes a file: the audit, the benchmark and evaluation read through it.
"""

from __future__ import annotations

import os
import platform
import struct
from collections import Counter, defaultdict
from functools import wraps

import numpy as np
from larq_compute_engine.mlir.python import tflite_schema


def builtin_names() -> dict[int, str]:
    ops = tflite_schema.BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def reads_flatbuffer(function):
    """Turn the flatbuffers library's low-level errors on a damaged file into one ValueError."""

    @wraps(function)
    def wrapper(flatbuffer, *args, **kwargs):
        check_flatbuffer(flatbuffer)
        try:
            return function(flatbuffer, *args, **kwargs)
        except (
            IndexError,
            struct.error,
            TypeError,
            AttributeError,
            UnicodeDecodeError,
            OverflowError,
            MemoryError,
        ) as error:
            raise ValueError(
                f"malformed TFLite flatbuffer: {type(error).__name__}: {error}"
            ) from None

    return wrapper


def check_flatbuffer(flatbuffer: bytes) -> None:
    """Raise `ValueError` unless `flatbuffer` carries the TFLite file identifier."""
    if not isinstance(flatbuffer, (bytes, bytearray)) or len(flatbuffer) < 8:
        raise ValueError("not a TFLite flatbuffer: fewer than 8 bytes.")
    if bytes(flatbuffer[4:8]) != b"TFL3":
        raise ValueError(
            f"not a TFLite flatbuffer: file identifier {bytes(flatbuffer[4:8])!r}, "
            "expected b'TFL3'."
        )


@reads_flatbuffer
def op_counts(flatbuffer: bytes) -> Counter:
    """Operator type -> count over every subgraph of a TFLite flatbuffer.

    Custom ops appear under their custom code (`LceBconv2d`, `LceQuantize`, ...),
    builtins under their schema name (`CONV_2D`, `ADD`, ...).
    """
    check_model(flatbuffer)  # a truncated file can still hold a readable op table
    return _op_counts(tflite_schema.Model.GetRootAsModel(flatbuffer, 0))


def _opcode_names(model) -> list[str]:
    """Custom ops by their custom code (`LceBconv2d`), builtins by schema name (`CONV_2D`)."""
    builtins = builtin_names()
    names = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        if custom:
            names.append(custom.decode())
        else:
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            names.append(builtins.get(builtin, f"BUILTIN_{builtin}"))
    return names


def _op_counts(model) -> Counter:
    names = _opcode_names(model)
    counts: Counter = Counter()
    for s in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(s)
        for j in range(subgraph.OperatorsLength()):
            counts[names[subgraph.Operators(j).OpcodeIndex()]] += 1
    return counts


@reads_flatbuffer
def check_model(flatbuffer: bytes) -> None:
    """Raise `ValueError` unless the file is a schema-3 TFLite model with operators."""
    model = tflite_schema.Model.GetRootAsModel(flatbuffer, 0)
    if model.Version() != 3:
        raise ValueError(f"TFLite schema version {model.Version()}, expected 3")
    if model.SubgraphsLength() < 1 or model.Subgraphs(0).OperatorsLength() < 1:
        raise ValueError("TFLite model without operators")
    # Interpreters trust these indices; a file that breaks them must not reach one.
    opcodes, buffers = model.OperatorCodesLength(), model.BuffersLength()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        tensors = graph.TensorsLength()
        for t in range(tensors):
            _check_tensor(model, graph.Tensors(t), f"subgraph {s}: tensor {t}", buffers)
        indices = [("input", int(i)) for i in _indices(graph.InputsAsNumpy())]
        indices += [("output", int(i)) for i in _indices(graph.OutputsAsNumpy())]
        for j in range(graph.OperatorsLength()):
            op = graph.Operators(j)
            if op.OpcodeIndex() >= opcodes:
                raise ValueError(
                    f"subgraph {s}: operator {j} has opcode {op.OpcodeIndex()} of {opcodes}"
                )
            indices += [(f"operator {j}", int(i)) for i in _indices(op.InputsAsNumpy())]
            indices += [(f"operator {j}", int(i)) for i in _indices(op.OutputsAsNumpy())]
        for where, index in indices:
            if not -1 <= index < tensors:
                raise ValueError(f"subgraph {s}: {where} refers to tensor {index} of {tensors}")
    _op_counts(model)


#: bytes per element of the tensor types a constant buffer can hold
_ITEMSIZE = {
    tflite_schema.TensorType.FLOAT32: 4,
    tflite_schema.TensorType.FLOAT16: 2,
    tflite_schema.TensorType.FLOAT64: 8,
    tflite_schema.TensorType.INT32: 4,
    tflite_schema.TensorType.INT64: 8,
    tflite_schema.TensorType.INT16: 2,
    tflite_schema.TensorType.INT8: 1,
    tflite_schema.TensorType.UINT8: 1,
    tflite_schema.TensorType.BOOL: 1,
}


def _check_tensor(model, tensor, where: str, buffers: int) -> None:
    """A constant's bytes must match its shape and type (TF Lite crashes otherwise)."""
    if tensor.Buffer() >= buffers:
        raise ValueError(f"{where} refers to buffer {tensor.Buffer()} of {buffers}")
    shape = _indices(tensor.ShapeAsNumpy())
    if any(int(d) < -1 for d in shape):
        raise ValueError(f"{where} has shape {list(shape)}")
    data = model.Buffers(tensor.Buffer()).DataLength() if tensor.Buffer() else 0
    if data:
        itemsize = _ITEMSIZE.get(tensor.Type())
        if itemsize is None or any(int(d) < 0 for d in shape):
            raise ValueError(f"{where}: constant of type {tensor.Type()} cannot be checked")
        expected = itemsize * int(np.prod([int(d) for d in shape], dtype=np.int64))
        if expected != data:
            raise ValueError(
                f"{where}: shape {list(shape)} needs {expected} bytes, buffer has {data}"
            )


def _indices(values):
    return [] if isinstance(values, int) else values


def read_tflite(path: str | os.PathLike, *, probe: bool = True) -> bytes:
    """A TFLite file's bytes; a clear error for a missing, truncated or foreign file.

    With `probe`, the file is also loaded and run once by LCE's interpreter in a child
    process: a damaged file can crash TF Lite's C++ code (fuzzing found segfaults on
    corrupted custom-op options), which must not take the caller's process with it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TFLite file not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        check_model(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if probe:
        _probe(path)
    return data


_PROBE = """
import sys
import numpy as np
from larq_compute_engine.tflite.python.interpreter import Interpreter
try:
    interpreter = Interpreter(open(sys.argv[1], "rb").read(), num_threads=1)
    shape = [1 if d is None or d < 1 else d for d in interpreter.input_shapes[0]]
    interpreter.predict(np.zeros(shape, np.float32))
except Exception as error:
    print(f"{type(error).__name__}: {error}".splitlines()[0], file=sys.stderr)
    sys.exit(3)
"""


def _probe(path: str) -> None:
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, path], capture_output=True, text=True, env=env
    )
    if result.returncode < 0:
        raise ValueError(
            f"{path}: LCE's interpreter crashed loading it (signal {-result.returncode}); "
            "the file is damaged"
        )
    if result.returncode:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {result.returncode}"
        raise ValueError(f"{path}: LCE's interpreter cannot run it: {detail}")


#: LCE's LceBconv2d kernels, as its interpreter and `lce_benchmark_model` select them.
#: "bgemm" is LCE's default (tuned assembly on aarch64); "indirect_bgemm" measured 5-6x
#: faster on this machine's x86-64 (ABReActNetA at 224: 276 -> 43 ms, 1 thread);
#: "reference" is the slow, simple one LCE's tests compare against.
KERNELS = {
    "bgemm": {},
    "indirect_bgemm": {"use_indirect_bgemm": True},
    "reference": {"use_reference_bconv": True},
}


def default_kernel() -> str:
    """LCE's fastest binary conv kernel here: `indirect_bgemm` on x86-64, where `bgemm` has
    no assembly (measured ABReActNetA at 224, 1 thread: 40 vs 215 ms), `bgemm` on ARM."""
    return "indirect_bgemm" if platform.machine().lower() in ("x86_64", "amd64") else "bgemm"


#: Ops that only move data: walks through them find where a tensor comes from.
MOVES_DATA = {"PAD", "PADV2", "REVERSE_V2", "RESHAPE", "TRANSPOSE"}


class Graph:
    """The first subgraph of a TFLite file as ops and tensors, with the walks the audit
    needs (producers, consumers, sources through data-movement ops, ancestors)."""

    def __init__(self, flatbuffer: bytes):
        check_flatbuffer(flatbuffer)
        self.model = tflite_schema.Model.GetRootAsModel(flatbuffer, 0)
        if self.model.SubgraphsLength() < 1:
            raise ValueError("TFLite file has no subgraph")
        self.graph = self.model.Subgraphs(0)
        self.opnames = _opcode_names(self.model)
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
            self.ops.append((self.opnames[index], op, inputs, outputs))
        self.producer = {out: k for k, (_, _, _, outs) in enumerate(self.ops) for out in outs}
        self.consumers = defaultdict(list)
        for k, (_, _, ins, _) in enumerate(self.ops):
            for t in ins:
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

    def constants(self, tensors) -> list:
        """The float constants among `tensors`, each read once."""
        values = (self.constant(t) for t in tensors)
        return [v for v in values if v is not None]

    def from_input(self, tensor) -> bool:
        """Whether `tensor` is the graph input, through data-movement ops only."""
        return self.source(tensor) in self.graph_inputs

    def source(self, tensor: int, through=MOVES_DATA) -> int:
        """The tensor `tensor` is computed from through data-movement ops only."""
        while tensor not in self.graph_inputs:
            k = self.producer.get(tensor)
            if k is None or self.ops[k][0] not in through:
                break
            tensor = self.ops[k][2][0]
        return tensor

    def ancestors(self, tensor: int) -> set:
        """Every tensor `tensor` is computed from (itself included)."""
        seen, stack = set(), [tensor]
        while stack:
            t = stack.pop()
            if t in seen or t < 0:
                continue
            seen.add(t)
            k = self.producer.get(t)
            if k is not None:
                stack.extend(self.ops[k][2])
        return seen

    def is_shortcut_conv(self, k: int) -> bool:
        """A real 1x1 conv on a block's shortcut (Bi-ResNet's downsample): it feeds only a
        residual ADD whose other operand is computed by a binary conv from the tensor the
        shortcut starts from (through an average pool)."""
        _, _, ins, outs = self.ops[k]
        if self.shape(ins[1])[1:3] != [1, 1]:
            return False
        adds = self.consumers[outs[0]]
        if len(adds) != 1 or self.ops[adds[0]][0] != "ADD":
            return False
        start = self.source(ins[0], MOVES_DATA | {"AVERAGE_POOL_2D"})
        for other in self.ops[adds[0]][2]:
            if other == outs[0] or other < 0:
                continue
            for t in self.ancestors(other):
                j = self.producer.get(t)
                if j is not None and self.ops[j][0] == "LceBconv2d":
                    if start in self.ancestors(self.ops[j][2][0]):
                        return True
        return False

    def first_conv_output(self) -> int | None:
        """The output of the first conv, the one reading the graph input (the stem)."""
        return next(
            (
                outs[0]
                for name, _, ins, outs in self.ops
                if name in ("CONV_2D", "DEPTHWISE_CONV_2D") and self.from_input(ins[0])
            ),
            None,
        )

    def outside_blocks(self, k: int, first_conv_output: int | None) -> bool:
        """A PReLU right after the first conv or right before the global pool (MEAN)."""
        _, _, ins, outs = self.ops[k]
        if first_conv_output is not None and self.source(ins[0]) == first_conv_output:
            return True
        consumers, stack = [], list(self.consumers[outs[0]])
        while stack:  # a RESHAPE or TRANSPOSE may sit between the PReLU and the pool
            c = stack.pop()
            if self.ops[c][0] in MOVES_DATA:
                stack.extend(self.consumers[self.ops[c][3][0]])
            else:
                consumers.append(self.ops[c][0])
        return bool(consumers) and all(name == "MEAN" for name in consumers)

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
