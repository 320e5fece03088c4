"""Checks that a folded model and its converted file (TFLite or QONNX) compute what the
Keras model computes. One check for every format: only the runner differs
(`formats.Format.run`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tqdm import tqdm  # installed with larq-compute-engine

from larq_abbnn.converters import contract, formats
from larq_abbnn.converters.fold import fold
from larq_abbnn.converters.pipeline import fold_and_convert
from larq_abbnn.data.transforms import MEAN, STD


class VerificationError(AssertionError):
    """The folded model or the converted file does not compute what the Keras model does."""


#: Float32 outputs within this fraction of the largest logit count as equal to Keras's.
ROUNDING = 1e-4
#: Float64 folded logits must equal Keras's to this fraction of the largest logit.
EXACT = 1e-9


@dataclass(frozen=True)
class Verification:
    samples: int
    float64_samples: int
    float64_relative_difference: float
    folded_exact: float
    folded_argmax_agreement: float
    #: the converted file's outputs, run by `runner`
    file_exact: float
    file_argmax_agreement: float
    logit_scale: float
    #: what ran the file: "TFLite (LCE interpreter)", "QONNX (qonnx executor)"
    runner: str

    def __str__(self) -> str:
        return (
            f"{self.samples} inputs; fold exact in float64 to "
            f"{self.float64_relative_difference:.1e} of the logit scale ({self.float64_samples} "
            f"inputs); float32, equal to Keras within rounding / same argmax: folded "
            f"{self.folded_exact:.1%} / {self.folded_argmax_agreement:.1%}, {self.runner} "
            f"{self.file_exact:.1%} / {self.file_argmax_agreement:.1%} "
            f"(logits up to {self.logit_scale:.2e})"
        )


def _in_float64(model: tf.keras.Model) -> tf.keras.Model:
    """The same network and weights with every layer in float64 (built from its config)."""

    def to_float64(config):
        if isinstance(config, dict):
            return {
                k: "float64" if k == "dtype" and v == "float32" else to_float64(v)
                for k, v in config.items()
            }
        if isinstance(config, list):
            return [to_float64(v) for v in config]
        return config

    twin = model.__class__.from_config(to_float64(model.get_config()))
    twin.set_weights([np.asarray(w, np.float64) for w in model.get_weights()])
    return twin


def verify(
    model: tf.keras.Model,
    converted: bytes | object | None = None,
    inputs: np.ndarray | None = None,
    *,
    format: str = "tflite",
    folded: tf.keras.Model | None = None,
    samples: int = 256,
    float64_samples: int = 4,
    min_exact: float = 0.5,
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
) -> Verification:
    """Check that the folded model and the converted file compute what `model` computes.

    `converted` is TFLite bytes (run by LCE's interpreter) or a QONNX `onnx.ModelProto`
    (run by qonnx's executor); when it is None, `model` is converted to `format`
    ("tflite" or "qonnx") first (`pipeline.fold_and_convert`). `folded`, the fold of
    `model` the file was converted from (`Conversion.folded`), spares folding again.

    A binary network's float32 output is fragile: a sign whose input lies within rounding
    of zero flips under another summation order, and a few flips can overturn a near-tied
    argmax (measured: ABBiResNet18 with random weights at 224 px, 98.8% argmax agreement
    although the fold is exact). So agreement is checked where it is decidable:

    1. The fold is exact: in float64 (a float64 twin of `model`, folded, on the first
       `float64_samples` inputs) its logits equal Keras's within `EXACT` (1e-9) of the
       largest logit.
    2. Float32 differences are rounding: the folded model and the file each equal
       Keras within `ROUNDING` (1e-4) of the largest logit on at least `min_exact` of the
       inputs. The rest are inputs where a sign flipped; a file that computes something
       else differs on almost every input (0% on the test with other weights).

    Argmax agreement is reported, not enforced. `inputs` defaults to `samples`
    standard-normal images, or uniform uint8 pixels for a file that takes them (its
    `contract` record; Keras then takes their normalization). Raises
    `VerificationError` saying which check failed.
    `progress` shows a bar (on stderr) over the six stages, naming the running one
    (counted in stages, not inputs: the two float64 stages run 4 inputs, but building
    and folding the float64 twin takes about as long as the float32 stages).
    """
    target = formats.of_converted(converted) if converted is not None else formats.get(format)
    pixels = "normalized" if converted is None else contract.read_input_pixels(converted)
    if inputs is None:
        shape = tuple(model.input_shape[1:])
        rng = np.random.default_rng(seed)
        if pixels == "uint8":
            inputs = rng.integers(0, 256, size=(samples, *shape), dtype=np.uint8)
        else:
            inputs = rng.normal(size=(samples, *shape)).astype(np.float32)
    elif pixels == "uint8":
        contract.check_pixels(inputs, np.uint8)
    # what the Keras model takes: the file's uint8 pixels normalized outside the graph
    keras_inputs = _normalized(inputs) if pixels == "uint8" else inputs
    exact_inputs = inputs[:float64_samples]
    predict = functools.partial(_logits, batch_size=batch_size)
    with _Stages(6, progress) as stages:
        if converted is None:
            conversion = stages.run(
                f"folding and converting ({target.name})",
                len(inputs),
                lambda: fold_and_convert(model, format=target.name, input_pixels=pixels),
            )
            converted, folded = conversion.converted, conversion.folded
        else:
            stages.skip()
            if folded is None:
                folded = fold(model, input_pixels=pixels)
        keras = stages.run("Keras", len(inputs), lambda: predict(model, keras_inputs))
        folded_out = stages.run("folded", len(inputs), lambda: predict(folded, inputs))
        outputs = stages.run(target.runner, len(inputs), lambda: target.run(converted, inputs))
        keras64, folded64 = _float64_outputs(model, exact_inputs, pixels, stages, predict)
    result = _compare(keras, folded_out, outputs, keras64, folded64, target.runner)
    _check(result, min_exact)
    return result


class _Stages:
    """A progress bar (on stderr, when `progress`) counted in stages, naming the running one."""

    def __init__(self, total: int, progress: bool):
        self.bar = tqdm(
            total=total,
            disable=not progress,
            bar_format="{desc} {bar} stage {n_fmt} of {total_fmt} [{elapsed}]",
        )

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.bar.close()

    def say(self, description: str) -> None:
        self.bar.set_description(f"verify: {description}")
        self.bar.refresh()

    def run(self, description: str, count: int, work):
        self.say(f"{description} ({count} inputs)")
        result = work()
        self.bar.update(1)
        return result

    def skip(self) -> None:
        self.bar.update(1)


def _normalized(pixels: np.ndarray) -> np.ndarray:
    """`preprocess_input` of uint8 pixels, computed in float64 and given in Keras's float
    type (`preprocess_input` itself computes in float32, as the data pipeline does, which
    is 1e-8 from exact: too far for the float64 check)."""
    normalized = (np.asarray(pixels, np.float64) / 255.0 - np.array(MEAN)) / np.array(STD)
    return normalized.astype(tf.keras.backend.floatx())


def _logits(model: tf.keras.Model, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    """`model`'s inference outputs on `inputs`, `batch_size` at a time, called eagerly: what
    `model.predict` computes, without tracing a predict function per model (about 1 s
    each at any size, four models per verify, where a verify's own arithmetic at its
    default size takes a few seconds)."""
    return np.concatenate(
        [
            np.asarray(model(inputs[i : i + batch_size], training=False))
            for i in range(0, len(inputs), batch_size)
        ]
    )


def _float64_outputs(model, inputs: np.ndarray, pixels: str, stages: _Stages, predict):
    """Keras's and the fold's logits of a float64 twin of `model` on `inputs` (uint8
    pixels, which the fold normalizes inside and Keras takes normalized, when `pixels` is
    "uint8")."""
    previous = tf.keras.backend.floatx()
    tf.keras.backend.set_floatx("float64")  # the fold builds its layers in floatx
    try:
        stages.say("building the float64 twin")
        twin = _in_float64(model)
        if pixels == "uint8":
            keras_inputs = _normalized(inputs)  # float64: floatx
        else:
            keras_inputs = inputs = np.asarray(inputs, np.float64)
        keras64 = stages.run("float64 Keras", len(inputs), lambda: predict(twin, keras_inputs))
        folded64 = stages.run(
            "float64 folded",
            len(inputs),
            lambda: predict(fold(twin, input_pixels=pixels), inputs),
        )
    finally:
        tf.keras.backend.set_floatx(previous)
    return keras64, folded64


def _compare(keras, folded, converted, keras64, folded64, runner: str) -> Verification:
    """How far the folded model and the file are from Keras (the float32 outputs), and the
    fold from its float64 twin's Keras outputs."""
    scale = float(np.max(np.abs(keras)))
    scale64 = float(np.max(np.abs(keras64))) or 1.0

    def exact(outputs):
        return float(np.mean(np.max(np.abs(outputs - keras), axis=-1) <= ROUNDING * scale))

    top = np.argmax(keras, axis=-1)
    return Verification(
        samples=len(keras),
        float64_samples=len(keras64),
        float64_relative_difference=float(np.max(np.abs(folded64 - keras64))) / scale64,
        folded_exact=exact(folded),
        folded_argmax_agreement=float(np.mean(np.argmax(folded, -1) == top)),
        file_exact=exact(converted),
        file_argmax_agreement=float(np.mean(np.argmax(converted, -1) == top)),
        logit_scale=scale,
        runner=runner,
    )


def _check(result: Verification, min_exact: float) -> None:
    if result.float64_relative_difference > EXACT:
        raise VerificationError(f"verification failed: the fold is not exact in float64: {result}")
    if min(result.folded_exact, result.file_exact) < min_exact:
        raise VerificationError(
            f"verification failed: fewer than {min_exact:.0%} of the inputs equal Keras's "
            f"output within float32 rounding: {result}"
        )
