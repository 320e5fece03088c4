"""The one way from a trained Keras model to a deployable file: `fold` once, then hand the
folded model to the format's converter (`formats`: LCE's for "tflite", the QONNX export
for "qonnx", hls4ml reading that export for "hls4ml"). The command line, `demo`,
`benchmark`, `verify` and the hls4ml flow all come through here, so a new target is one
more `formats` entry, not another "fold, then convert" (the review of #32 found five)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

from larq_abbnn.converters import formats
from larq_abbnn.converters.fold import STAGE as FOLD_STAGE
from larq_abbnn.converters.fold import fold


@dataclass(frozen=True)
class Conversion:
    """A conversion's folded model (for `verify`, which then does not fold again), the
    converted model (TFLite bytes, an `onnx.ModelProto`) and its format."""

    folded: tf.keras.Model
    converted: object
    format: formats.Format


def fold_and_convert(
    model: tf.keras.Model,
    *,
    format: str = "tflite",
    input_pixels: str = "normalized",
    on_stage: Callable[[str], None] | None = None,
    **options,
) -> Conversion:
    """`convert`, keeping the folded model beside the file (`Conversion`)."""
    target = formats.get(format)
    target.check_options(options)  # before the fold, not after
    target.check_installed()
    say = on_stage or (lambda _: None)
    say(FOLD_STAGE)
    folded = fold(model, input_pixels=input_pixels)
    say(f"converting with {target.converter}")
    return Conversion(folded, target.convert_folded(folded, **options), target)


def convert(
    model: tf.keras.Model,
    *,
    format: str = "tflite",
    input_pixels: str = "normalized",
    on_stage: Callable[[str], None] | None = None,
    **options,
):
    """Fold `model` once and convert it to `format`: TFLite bytes for "tflite" (LCE's
    `convert_keras_model`; a file for ARM boards), an `onnx.ModelProto` for "qonnx"
    (FPGA flows; the `[onnx]` extra) or an `hls4ml.model.ModelGraph` for "hls4ml" (its
    project; the `[fpga]` extra; `hls4ml_flow`). `formats.get(format).save(converted,
    path)` writes any of them.

    `input_pixels="uint8"` gives a file that takes raw uint8 pixels and normalizes them
    itself (`fold`'s option; by default it takes normalized float32 images, as `model`).
    `on_stage(description)` is called as each stage starts (the fold; the conversion,
    which takes most of the time: 11-13 s for ReActNet-A at 224 px through LCE, on a
    busy 2-core host where LCE's `convert_keras_model` took 32-34 s). `options`
    go to the format's converter, checked before anything runs (`formats.Format.options`):
    LCE's `inference_input_type`, `inference_output_type`, `target` and
    `experimental_default_int8_range`; QONNX's `pad_binary_with_ones` and `forms` (qonnx
    `Transformation`s applied to the export: `converters.qonnx.passes`); hls4ml's
    `output_dir`, `precision`, `io_type`, `backend` and `quiet` (`hls4ml_flow.from_folded`). Raises
    `FoldError` naming the layer for a model the fold cannot take.
    """
    return fold_and_convert(
        model, format=format, input_pixels=input_pixels, on_stage=on_stage, **options
    ).converted


def to_qonnx(
    model: tf.keras.Model, *, pad_binary_with_ones: bool = False, input_pixels: str = "normalized"
):
    """`convert(model, format="qonnx", ...)`: one NCHW float32 image in (uint8 pixels with
    `input_pixels="uint8"`), its logits out, as a QONNX `onnx.ModelProto`. Save it with
    `onnx.save`; run it with `converters.qonnx.execute`.

    `pad_binary_with_ones` writes each zero-padded binary conv as a conv of its input
    padded with +1 (`Pad`) and an `Add` of what the +1s add, negated (a per-position
    integer constant): the same function, in the form `qonnx_xnor.to_xnor_popcount`
    can take (XNOR-popcount codes +-1 as {1, 0}, with no zero).
    """
    return convert(
        model, format="qonnx", input_pixels=input_pixels, pad_binary_with_ones=pad_binary_with_ones
    )


def to_hls4ml(model: tf.keras.Model, output_dir: str | os.PathLike | None = None, **options):
    """`convert(model, format="hls4ml", output_dir=..., **options)`: `model` folded, exported
    and read by hls4ml, an `hls4ml.model.ModelGraph` whose project goes to `output_dir`.
    `options` are `hls4ml_flow.from_folded`'s (`precision`, `io_type`, `backend`, `quiet`),
    with its defaults and what each does; another name is refused before the fold
    (`formats.Format.check_options`). `.compile()` and `.predict(images)` run its C++
    emulation; `formats.HLS4ML.save(hls_model, folder)` writes its project atomically."""
    return convert(model, format="hls4ml", output_dir=output_dir, **options)
