"""TFLite files: reading and checking them with the flatbuffer schema LCE ships.

The one place that reads a file and checks it before an interpreter sees it; the op
graph over it is `tflite_graph`. The audit, the benchmark and evaluation read through it.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from functools import wraps

import numpy as np
from larq_compute_engine.mlir.python import tflite_schema

from abbnn.inputs import require


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


def opcode_names(model) -> list[str]:
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
    names = opcode_names(model)
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
    require(path, "TFLite file")
    with open(path, "rb") as f:
        data = f.read()
    try:
        check_model(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if probe:
        _probe(path)
    return data


# The child imports LCE's interpreter without LCE's package `__init__`, which imports its
# converter and so TensorFlow: 0.35 s a file instead of 3.6 s (measured on this machine
# kind), paid by every command that reads a .tflite file. The interpreter's extension
# module needs nothing of TensorFlow's Python side.
_PROBE = """
import importlib.util, sys, types
spec = importlib.util.find_spec("larq_compute_engine")
package = types.ModuleType("larq_compute_engine")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["larq_compute_engine"] = package
import numpy as np
from larq_compute_engine.tflite.python.interpreter import Interpreter
try:
    interpreter = Interpreter(open(sys.argv[1], "rb").read(), num_threads=1)
    shape = [1 if d is None or d < 1 else d for d in interpreter.input_shapes[0]]
    interpreter.predict(np.zeros(shape, interpreter.input_types[0]))
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
