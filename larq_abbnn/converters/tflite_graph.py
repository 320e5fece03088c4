"""Reading converted TFLite files with the flatbuffer schema LCE ships."""

from __future__ import annotations

import struct
from collections import Counter
from functools import wraps

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
    model = tflite_schema.Model.GetRootAsModel(flatbuffer, 0)
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
    op_counts(flatbuffer)
