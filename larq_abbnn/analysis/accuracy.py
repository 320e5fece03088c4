"""Top-1/top-5 accuracy of a Keras model or of a converted `.tflite` file, computed the same way.

The deployed file is run in LCE's interpreter, so its accuracy is measured, not assumed
equal to the Keras model's (a binary network can flip near-zero signs after conversion).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter
from tqdm import tqdm  # installed with larq-compute-engine

from larq_abbnn.analysis.kernels import KERNELS, default_kernel
from larq_abbnn.analysis.tflite_file import read_tflite
from larq_abbnn.converters import contract
from larq_abbnn.data.transforms import MEAN, STD
from larq_abbnn.saved_models import SUFFIXES, load_keras_file


@dataclass(frozen=True)
class Accuracy:
    top1: float
    top5: float
    examples: int

    def __str__(self) -> str:
        # percent, as `abbnn report` and the paper give accuracy
        top1, top5 = 100 * self.top1, 100 * self.top5
        return f"top-1 {top1:.2f}%, top-5 {top5:.2f}% on {self.examples:,} images"


def _predictor(model, threads: int, kernel: str | None):
    if isinstance(model, (bytes, bytearray)):
        options = KERNELS[kernel or default_kernel()]
        interpreter = Interpreter(bytes(model), num_threads=threads, **options)
        if contract.read_input_pixels(bytes(model)) == "uint8":
            return lambda x: interpreter.predict(to_pixels(x))
        return lambda x: interpreter.predict(x.astype(np.float32))
    return lambda x: model.predict_on_batch(x)


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Normalized images (the data pipeline's) back to the uint8 pixels a file converted
    with `input_pixels="uint8"` takes, as a camera gives them: exact for images the test
    transform did not resize (CIFAR), rounded to the nearest pixel value for resized ones."""
    pixels = (np.asarray(images, np.float64) * np.array(STD) + np.array(MEAN)) * 255.0
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def load_for_evaluation(path: str):
    """A `.tflite` file's bytes (checked), or a Keras model loaded from `path`."""
    from larq_abbnn.converters.formats import TFLITE, refuse_other_formats

    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    refuse_other_formats(
        path,
        "abbnn evaluate",
        "evaluates .keras/.h5 models, SavedModel folders and .tflite files (abbnn convert "
        "--verify compares a .onnx file with the model it was converted from)",
        TFLITE,
    )
    if path.endswith(".tflite"):
        return read_tflite(path)
    if not (path.endswith(SUFFIXES) or os.path.isdir(path)):
        raise ValueError(
            f"{path}: expected a .keras or .h5 file, a SavedModel folder or a .tflite file"
        )
    return load_keras_file(path)


def evaluate(
    model: tf.keras.Model | bytes,
    dataset: tf.data.Dataset,
    limit: int | None = None,
    threads: int | None = None,
    kernel: str | None = None,
    progress: bool = False,
    total: int | None = None,
) -> Accuracy:
    """Accuracy of `model` (Keras, or TFLite flatbuffer bytes) on batches of (image, label).

    A file runs in LCE's interpreter on `threads` (default: every core) with `kernel`
    (default: `default_kernel()`); `progress` shows a tqdm bar with images/s, out of
    `total` images (default: `limit`; a tf.data pipeline does not know its length).
    """
    predict = _predictor(model, threads or os.cpu_count() or 1, kernel)
    top1 = top5 = seen = 0
    bar = tqdm(total=total or limit, unit="img", disable=not progress, leave=False)
    for x, y in dataset:
        x, y = x.numpy(), y.numpy()
        if limit is not None:
            x, y = x[: limit - seen], y[: limit - seen]
        logits = np.asarray(predict(x)).reshape(len(x), -1)
        ranked = np.argsort(-logits, axis=1)
        top1 += int((ranked[:, 0] == y).sum())
        top5 += int((ranked[:, :5] == y[:, None]).any(axis=1).sum())
        seen += len(x)
        bar.update(len(x))
        if limit is not None and seen >= limit:
            break
    bar.close()
    if seen == 0:
        raise ValueError("the evaluation dataset is empty")
    return Accuracy(top1 / seen, top5 / seen, seen)
