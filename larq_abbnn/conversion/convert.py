"""Folded models through Larq Compute Engine: one call from a trained model to a file."""

from __future__ import annotations

import tensorflow as tf
from larq_compute_engine import convert_keras_model

from larq_abbnn.conversion.fold import fold


def convert(model: tf.keras.Model, **lce_options) -> bytes:
    """Fold `model` and convert it with LCE's `convert_keras_model`.

    `lce_options` pass through (`inference_input_type`, `inference_output_type`,
    `target`, `experimental_default_int8_range`).
    """
    return convert_keras_model(fold(model), **lce_options)
