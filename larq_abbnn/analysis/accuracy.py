"""Top-1/top-5 accuracy of a Keras model or of a converted file (`.tflite`, QONNX `.onnx`),
computed the same way.

The deployed file is run by its format's runner (LCE's interpreter; qonnx's executor), so
its accuracy is measured, not assumed equal to the Keras model's (a binary network can
flip near-zero signs after conversion).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from larq_compute_engine.tflite.python.interpreter import Interpreter
from tqdm import tqdm  # installed with larq-compute-engine

from abbnn.inputs import require
from larq_abbnn.analysis.kernels import KERNELS, default_kernel
from larq_abbnn.analysis.tflite_file import read_tflite
from larq_abbnn.converters import contract, formats
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
    if formats.QONNX.holds(model):
        pixels = contract.read_input_pixels(model) == "uint8"
        return lambda x: formats.QONNX.run(model, to_pixels(x) if pixels else x)
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
    """A `.tflite` file's bytes (checked), a QONNX file's `onnx.ModelProto`, or a Keras
    model loaded from `path`."""
    require(path, "model")
    formats.refuse_other_formats(
        path,
        "abbnn evaluate",
        "reads a Keras model, a .tflite file or a QONNX .onnx file",
        formats.TFLITE,
        formats.QONNX,
    )
    if path.endswith(".tflite"):
        return read_tflite(path)
    if path.endswith(formats.QONNX.suffix):
        from larq_abbnn.analysis.qonnx_file import read_qonnx

        formats.QONNX.check_installed()
        return read_qonnx(path)
    if not (path.endswith(SUFFIXES) or os.path.isdir(path)):
        raise ValueError(
            f"{path}: expected a .keras or .h5 file, a SavedModel folder, a .tflite file or a "
            "QONNX .onnx file"
        )
    return load_keras_file(path)


def input_shape_and_classes(model) -> tuple[tuple, int]:
    """The image shape (H, W, C) `model` takes and its number of classes: a Keras model,
    TFLite bytes or a QONNX `onnx.ModelProto` (whose NCHW input is read as NHWC)."""
    if formats.QONNX.holds(model):
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        classes = model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
        return (dims[2], dims[3], dims[1]), int(classes)
    if isinstance(model, (bytes, bytearray)):
        interpreter = Interpreter(bytes(model))
        return tuple(interpreter.input_shapes[0][1:]), int(interpreter.output_shapes[0][-1])
    return tuple(model.input_shape[1:]), int(model.output_shape[-1])


def evaluate(
    model: tf.keras.Model | bytes,
    dataset: tf.data.Dataset,
    limit: int | None = None,
    threads: int | None = None,
    kernel: str | None = None,
    progress: bool = False,
    total: int | None = None,
) -> Accuracy:
    """Accuracy of `model` (Keras, TFLite flatbuffer bytes or a QONNX `onnx.ModelProto`) on
    batches of (image, label).

    A TFLite file runs in LCE's interpreter on `threads` (default: every core) with
    `kernel` (default: `default_kernel()`), a QONNX file in qonnx's executor; `progress`
    shows a tqdm bar with images/s, out of `total` images (default: `limit`; a tf.data
    pipeline does not know its length).
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
