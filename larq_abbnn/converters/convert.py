"""Folded models through Larq Compute Engine, and checks that the file computes the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from larq_compute_engine import convert_keras_model
from larq_compute_engine.tflite.python.interpreter import Interpreter

from larq_abbnn.converters.fold import fold


def convert(model: tf.keras.Model, **lce_options) -> bytes:
    """Fold `model` and convert it with LCE's `convert_keras_model`.

    `lce_options` pass through (`inference_input_type`, `inference_output_type`,
    `target`, `experimental_default_int8_range`).
    """
    return convert_keras_model(fold(model), **lce_options)


class VerificationError(AssertionError):
    """The folded model or the TFLite file does not compute what the Keras model does."""


@dataclass(frozen=True)
class Verification:
    samples: int
    folded_max_difference: float
    folded_argmax_agreement: float
    tflite_max_difference: float
    tflite_argmax_agreement: float
    logit_scale: float

    def __str__(self) -> str:
        return (
            f"{self.samples} inputs; folded Keras vs Keras: argmax agreement "
            f"{self.folded_argmax_agreement:.1%}, largest difference "
            f"{self.folded_max_difference:.2e}; TFLite (LCE interpreter) vs Keras: argmax "
            f"agreement {self.tflite_argmax_agreement:.1%}, largest difference "
            f"{self.tflite_max_difference:.2e} (logits up to {self.logit_scale:.2e})"
        )


def verify(
    model: tf.keras.Model,
    flatbuffer: bytes | None = None,
    inputs: np.ndarray | None = None,
    *,
    samples: int = 256,
    min_agreement: float = 0.99,
    seed: int = 0,
    batch_size: int = 32,
) -> Verification:
    """Run Keras, the folded model and the TFLite file on the same inputs and compare.

    `inputs` defaults to `samples` standard-normal images. Raises `VerificationError`
    when either the folded model or the TFLite file agrees with Keras's argmax on fewer
    than `min_agreement` of the inputs: a sign whose input lies within float rounding of
    zero may flip, nothing else may differ.
    """
    if inputs is None:
        shape = tuple(model.input_shape[1:])
        inputs = np.random.default_rng(seed).normal(size=(samples, *shape)).astype(np.float32)
    folded = fold(model)
    if flatbuffer is None:
        flatbuffer = convert_keras_model(folded)
    keras = model.predict(inputs, batch_size=batch_size, verbose=0)
    folded_out = folded.predict(inputs, batch_size=batch_size, verbose=0)
    tflite = Interpreter(flatbuffer, num_threads=2).predict(inputs.astype(np.float32))
    top = np.argmax(keras, axis=-1)
    result = Verification(
        samples=len(inputs),
        folded_max_difference=float(np.max(np.abs(folded_out - keras))),
        folded_argmax_agreement=float(np.mean(np.argmax(folded_out, -1) == top)),
        tflite_max_difference=float(np.max(np.abs(tflite - keras))),
        tflite_argmax_agreement=float(np.mean(np.argmax(tflite, -1) == top)),
        logit_scale=float(np.max(np.abs(keras))),
    )
    if min(result.folded_argmax_agreement, result.tflite_argmax_agreement) < min_agreement:
        raise VerificationError(f"verification failed: {result}")
    return result
