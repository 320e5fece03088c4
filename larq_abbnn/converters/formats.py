"""The file formats a folded model converts to, one entry each: how it is written from the
folded model, what runs it (for `verify`) and how it is saved (reading files back and
counting their ops is the analysis's: `analysis.converted`).

- `TFLITE`: Larq Compute Engine's converter, run by LCE's interpreter (the Raspberry Pi
  path; the base install).
- `QONNX`: `converters.qonnx`, run by qonnx's executor (the FPGA path: FINN, hls4ml; the
  `[onnx]` extra).
- `HLS4ML`: an hls4ml project folder (`converters.hls4ml_flow`: the QONNX export read by
  hls4ml), run by its C++ emulation (g++; the `[fpga]` extra). A folder has no suffix:
  `abbnn convert --format hls4ml` names it.

A new format is one more entry here (`pipeline.convert(model, format=NAME)` folds and
hands it the folded model, `abbnn convert` picks it by the output's suffix or `--format`,
`verify` runs it), its reader in `analysis.converted` and its counting rule in
`analysis.audit` (an hls4ml project's, in `analysis.hls4ml_project`).
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
    #: the file name ending that selects it; None for a folder (named by `--format`)
    suffix: str | None
    #: what converts the folded model, for progress messages
    converter: str
    #: what runs the file in `verify`
    runner: str
    #: folded Keras model (, the converter's options) -> the converted model (TFLite bytes,
    #: an `onnx.ModelProto`, an hls4ml `ModelGraph`), with `converters.contract`'s record
    #: of what it takes where the format has metadata
    convert_folded: Callable[..., object]
    #: (converted model, NHWC float32 images) -> logits
    run: Callable[[object, np.ndarray], np.ndarray]
    #: (converted model, path) -> bytes written, complete or not at all (`files`)
    save: Callable[[object, str], int]
    #: whether a converted model is one of this format
    holds: Callable[[object], bool]
    #: what it needs beyond the base install (`extras`), None for the base install
    extra: Extra | None = None
    #: the options its converter takes (`pipeline.convert`'s keyword arguments)
    options: tuple[str, ...] = ()
    #: for a folder format: whether an existing folder is an earlier output (replaced)
    replaces: Callable[[str], bool] = lambda folder: False

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

    @property
    def output(self) -> str:
        """What it writes, for messages: "a .tflite file", "an hls4ml project folder"."""
        return f"a {self.suffix} file" if self.suffix else f"an {self.name} project folder"

    def check_output(self, path: str | os.PathLike) -> None:
        """Raise naming `path` if this format cannot be written there, before a model is
        loaded and converted (`files.check_writable`, or `check_writable_folder`)."""
        from larq_abbnn import files

        if self.suffix is None:
            files.check_writable_folder(path, replaces=self.replaces)
        else:
            if not os.fspath(path).endswith(self.suffix):
                raise ValueError(
                    f"{path}: {self.name} writes {self.output}; the name must end in {self.suffix}"
                )
            files.check_writable(path)


def _save_bytes(to_bytes: Callable[[object], bytes]) -> Callable[[object, str], int]:
    def save(converted, path) -> int:
        from larq_abbnn.files import atomic_write_bytes

        data = to_bytes(converted)
        atomic_write_bytes(path, data)
        return len(data)

    return save


def lce_flatbuffer(model, **lce_options) -> bytes:
    """The TFLite bytes LCE's `convert_keras_model(model, **lce_options)` gives (its
    options: `inference_input_type`, `inference_output_type`, `target`,
    `experimental_default_int8_range`), about 4x sooner.

    Written here because `convert_keras_model` saves the model as a SavedModel with Keras's
    traces of every layer's call, in both training modes, and its converter reads none of
    them: it reads the serving signature alone. Here the SavedModel holds only that
    signature (`save_traces=False`), with Keras's own names (the input and output layers'),
    and LCE's `convert_saved_model` converts it: the same bytes
    (tests/test_lce_conversion.py), in 2.5 s instead of 9.3 for ReActNet-18 at width 0.125
    (AMD EPYC, TF 2.21; LCE's time is the SavedModel's traces at any width).
    """
    import tempfile

    import tensorflow as tf
    from larq_compute_engine import convert_saved_model

    if getattr(model, "dtype_policy", None) is not None and model.dtype_policy.name != "float32":
        raise ValueError(  # convert_keras_model's own check
            f"{model.name} computes in {model.dtype_policy.name}: the TFLite converter takes "
            "float32 models only; build it in float32 to convert it"
        )
    if not getattr(model, "inputs", None):
        raise ValueError(
            f"{model.name} has no inputs to convert from: LCE converts functional or built "
            "Sequential models (the zoo's and fold's are functional)"
        )
    specs = [
        tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
        for tensor, name in zip(model.inputs, model.input_names)
    ]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(model.output_names, outputs))

    with tempfile.TemporaryDirectory(prefix="abbnn-lce-") as folder:
        model.save(folder, save_format="tf", save_traces=False, signatures=serve)
        return convert_saved_model(folder, **lce_options)


def _lce_convert(folded, **lce_options):
    """LCE's converter (`lce_flatbuffer`), with the file's contract in its metadata. The one
    route to a TFLite file."""
    from larq_abbnn.converters import contract

    pixels = contract.input_pixels(folded)
    return contract.add_to_tflite(lce_flatbuffer(folded, **lce_options), pixels)


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


def _hls4ml_convert(folded, **options):
    from larq_abbnn.converters.hls4ml_flow import from_folded

    return from_folded(folded, **options)


def _hls4ml_run(hls_model, images: np.ndarray) -> np.ndarray:
    from larq_abbnn.converters.hls4ml_flow import run

    return run(hls_model, images)


def _hls4ml_save(hls_model, folder) -> int:
    from larq_abbnn.converters.hls4ml_flow import write

    return write(hls_model, folder)


def _is_hls4ml_project(folder: str) -> bool:
    from larq_abbnn.converters.hls4ml_flow import is_project

    return is_project(folder)


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
    save=_save_bytes(bytes),
    holds=lambda converted: isinstance(converted, (bytes, bytearray)),
)
QONNX = Format(
    name="qonnx",
    suffix=".onnx",
    converter="larq_abbnn.converters.qonnx (QONNX)",
    runner="QONNX (qonnx executor)",
    convert_folded=_qonnx_convert,
    run=_qonnx_run,
    save=_save_bytes(lambda proto: proto.SerializeToString()),
    holds=_is_onnx_model,
    extra=extras.ONNX,
    options=("pad_binary_with_ones", "forms"),
)
HLS4ML = Format(
    name="hls4ml",
    suffix=None,
    converter="hls4ml (its ONNX front end reads the QONNX export)",
    runner="hls4ml (C++ emulation, g++)",
    convert_folded=_hls4ml_convert,
    run=_hls4ml_run,
    save=_hls4ml_save,
    # an hls4ml.model.ModelGraph (hls4ml is imported only where it is used)
    holds=lambda converted: type(converted).__name__ == "ModelGraph",
    extra=extras.FPGA,
    options=("output_dir", "precision", "io_type", "backend", "quiet"),
    replaces=_is_hls4ml_project,
)
FORMATS = (TFLITE, QONNX, HLS4ML)
#: the formats written as one file, chosen by its suffix
FILE_FORMATS = tuple(format for format in FORMATS if format.suffix)


def of_path(path: str | os.PathLike) -> Format:
    """The format a file name's suffix selects; a clear error for any other suffix."""
    path = os.fspath(path)
    for format in FILE_FORMATS:
        if path.endswith(format.suffix):
            return format
    suffixes = " or ".join(format.suffix for format in FILE_FORMATS)
    folders = ", ".join(f"--format {f.name}" for f in FORMATS if f not in FILE_FORMATS)
    raise ValueError(
        f"{path}: the file name must end in {suffixes} (the format follows the suffix; "
        f"{folders} writes a project folder)"
    )


def refuse_other_formats(path: str, command: str, what_it_reads: str, *accepted: Format) -> None:
    """Raise `ValueError` if `path` is a converted file of a format `command` does not
    read (not one of `accepted`), saying what it reads instead of a reader's confusion
    (the trial: `abbnn benchmark m.onnx` said "not a TFLite flatbuffer")."""
    for format in FILE_FORMATS:
        if os.fspath(path).endswith(format.suffix) and format not in accepted:
            raise ValueError(
                f"{path} is a {format.suffix} ({format.name.upper()}) file, which {command} "
                f"does not read: it {what_it_reads}"
            )
    if HLS4ML not in accepted and _is_hls4ml_project(path):
        raise ValueError(
            f"{path} is an hls4ml project, which {command} does not read: it {what_it_reads} "
            "(abbnn audit reads a project; abbnn convert --format hls4ml --verify runs its "
            "C++ emulation against the model)"
        )


def of_converted(converted) -> Format:
    """The format of a converted model (TFLite bytes, an `onnx.ModelProto`)."""
    for format in FORMATS:
        if format.holds(converted):
            return format
    raise TypeError(
        "expected TFLite bytes, an onnx.ModelProto or an hls4ml ModelGraph, got "
        f"{type(converted).__name__}"
    )


def get(name: str) -> Format:
    """A format by its name: "tflite", "qonnx" or "hls4ml"."""
    for format in FORMATS:
        if format.name == name:
            return format
    names = ", ".join(repr(format.name) for format in FORMATS)
    raise ValueError(f"unknown format {name!r}: expected {names}")
