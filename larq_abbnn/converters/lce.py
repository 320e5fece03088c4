"""Folded models through Larq Compute Engine: one call from a trained model to a file."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from larq_abbnn.converters import formats
from larq_abbnn.converters.fold import STAGE as FOLD_STAGE
from larq_abbnn.converters.fold import fold


def convert(
    model: tf.keras.Model,
    *,
    input_pixels: str = "normalized",
    on_stage: Callable[[str], None] | None = None,
    **lce_options,
) -> bytes:
    """Fold `model` and convert it with LCE's `convert_keras_model`.

    `input_pixels="uint8"` gives a file that takes raw uint8 pixels and normalizes them
    itself (`fold`'s option; the default takes normalized float32 images, as `model`).
    `on_stage(description)` is called as each stage starts (fold, LCE's conversion, which
    takes most of the time: 23 s for ReActNet-A at 224 px). `lce_options` pass through
    (`inference_input_type`, `inference_output_type`, `target`,
    `experimental_default_int8_range`).
    """
    say = on_stage or (lambda _: None)
    say(FOLD_STAGE)
    folded = fold(model, input_pixels=input_pixels)
    say(f"converting with {formats.TFLITE.converter}")
    return formats.TFLITE.convert_folded(folded, **lce_options)
