"""The file formats a folded model converts to, one entry each: how it is written from the
folded model, what runs it (for `verify`) and how it is saved (reading files back and
counting their ops is the analysis's: `analysis.converted`).

- `TFLITE`: Larq Compute Engine's converter, run by LCE's interpreter (the Raspberry Pi
  path; the base install).
- `QONNX`: `converters.qonnx`, run by qonnx's executor (the FPGA path: FINN, hls4ml; the
  `[onnx]` extra).

A new format is one more entry here (`pipeline.convert(model, format=NAME)` folds and
hands it the folded model, `abbnn convert` picks it by the output's suffix, `verify` runs
it), its reader in `analysis.converted` and its counting rule in `analysis.audit`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from larq_abbnn.converters import extras
from larq_abbnn.converters.extras import Extra


@dataclass(frozen=True)
class Format:
    name: str
    #: the file name ending that selects it
    suffix: str
    #: what converts the folded model, for progress messages
    converter: str
    #: what runs the file in `verify`
    runner: str
    #: folded Keras model (, the converter's options) -> the converted model (TFLite bytes,
    #: an `onnx.ModelProto`), with `converters.contract`'s record of what it takes
    convert_folded: Callable[..., object]
    #: (converted model, NHWC float32 images) -> logits
    run: Callable[[object, np.ndarray], np.ndarray]
    to_bytes: Callable[[object], bytes]
    #: whether a converted model is one of this format
    holds: Callable[[object], bool]
    #: what it needs beyond the base install (`extras`), None for the base install
    extra: Extra | None = None
    #: the options its converter takes (`pipeline.convert`'s keyword arguments)
    options: tuple[str, ...] = ()

    def check_options(self, options: dict) -> None:
        """A `TypeError` naming an option this format's converter does not take (before
        a model is folded, rather than the converter's own error after)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise TypeError(
                f"{self.name} conversion got unknown option(s) {', '.join(unknown)}; it takes "
                f"{takes}"
            )

    def check_installed(self) -> None:
        """An `ImportError` naming the extra when a module the format needs is missing
        (before a model is loaded and folded, not after)."""
        if self.extra is not None:
            self.extra.check_installed()


def _lce_convert(folded, **lce_options):
    """LCE's `convert_keras_model` (its options: `inference_input_type`, `target`, ...),
    with the file's contract in its metadata. The one route to a TFLite file."""
    from larq_compute_engine import convert_keras_model

    from larq_abbnn.converters import contract

    pixels = contract.input_pixels(folded)
    return contract.add_to_tflite(convert_keras_model(folded, **lce_options), pixels)


def _lce_run(flatbuffer: bytes, images: np.ndarray) -> np.ndarray:
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    from larq_abbnn.converters import contract

    interpreter = Interpreter(flatbuffer, num_threads=2)
    takes = interpreter.input_types[0]
    contract.check_pixels(images, takes)
    return interpreter.predict(np.asarray(images, takes))


def _qonnx_convert(folded, **options):
    from larq_abbnn.converters.qonnx import export_folded

    return export_folded(folded, **options)


def _qonnx_run(proto, images: np.ndarray) -> np.ndarray:
    from larq_abbnn.converters.qonnx.runtime import execute

    return execute(proto, images)


def _is_onnx_model(converted) -> bool:
    return type(converted).__name__ == "ModelProto" and hasattr(converted, "graph")


TFLITE = Format(
    name="tflite",
    suffix=".tflite",
    converter="Larq Compute Engine (MLIR)",
    runner="TFLite (LCE interpreter)",
    convert_folded=_lce_convert,
    options=(
        "inference_input_type",
        "inference_output_type",
        "target",
        "experimental_default_int8_range",
    ),
    run=_lce_run,
    to_bytes=bytes,
    holds=lambda converted: isinstance(converted, (bytes, bytearray)),
)
QONNX = Format(
    name="qonnx",
    suffix=".onnx",
    converter="larq_abbnn.converters.qonnx (QONNX)",
    runner="QONNX (qonnx executor)",
    convert_folded=_qonnx_convert,
    run=_qonnx_run,
    to_bytes=lambda proto: proto.SerializeToString(),
    holds=_is_onnx_model,
    extra=extras.ONNX,
    options=("pad_binary_with_ones", "forms"),
)
FORMATS = (TFLITE, QONNX)


def of_path(path: str | os.PathLike) -> Format:
    """The format a file name's suffix selects; a clear error for any other suffix."""
    path = os.fspath(path)
    for format in FORMATS:
        if path.endswith(format.suffix):
            return format
    suffixes = " or ".join(format.suffix for format in FORMATS)
    raise ValueError(
        f"{path}: the file name must end in {suffixes} (the format follows the suffix)"
    )


def refuse_other_formats(path: str, command: str, what_it_reads: str, *accepted: Format) -> None:
    """Raise `ValueError` if `path` is a converted file of a format `command` does not
    read (not one of `accepted`), saying what it reads instead of a reader's confusion
    (the trial: `abbnn benchmark m.onnx` said "not a TFLite flatbuffer")."""
    for format in FORMATS:
        if os.fspath(path).endswith(format.suffix) and format not in accepted:
            raise ValueError(
                f"{path} is a {format.suffix} ({format.name.upper()}) file, which {command} "
                f"does not read: it {what_it_reads}"
            )


def of_converted(converted) -> Format:
    """The format of a converted model (TFLite bytes, an `onnx.ModelProto`)."""
    for format in FORMATS:
        if format.holds(converted):
            return format
    raise TypeError(f"expected TFLite bytes or an onnx.ModelProto, got {type(converted).__name__}")


def get(name: str) -> Format:
    """A format by its name, "tflite" or "qonnx"."""
    for format in FORMATS:
        if format.name == name:
            return format
    names = ", ".join(repr(format.name) for format in FORMATS)
    raise ValueError(f"unknown format {name!r}: expected {names}")
