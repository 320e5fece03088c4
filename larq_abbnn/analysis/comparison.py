"""An A&B model beside what users would pick instead, converted and timed in one process.

The references: the BN-Free counterpart (same topology with real multiplications),
larq-zoo's QuickNetSmall/QuickNet/QuickNetLarge and BiRealNet (`weights=None`, timing
only; `pip install larq-abbnn[bench]`), and the same network in full precision (binary
convs as real convs) run through TF Lite's own interpreter with XNNPACK, what the binary
kernels are up against. Models are timed in interleaved rounds so machine noise hits
all alike, all on the same LCE binary-conv kernel.

The A&B and BN-Free models get trained-looking random weights (`synthetic.trained_looking`):
a fresh model's zero biases would vanish in conversion and flatter their op count.
"""

from __future__ import annotations

import functools
import os
import re
import statistics
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from tqdm import tqdm  # installed with larq-compute-engine

from larq_abbnn import layers, zoo
from larq_abbnn.analysis.audit import count_multiplications
from larq_abbnn.analysis.benchmark import Measurement, measure
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.converters import convert
from larq_abbnn.files import atomic_write_bytes

#: A&B zoo model -> its BN-Free counterpart
COUNTERPARTS = {"ab_reactneta": "bnfree_reactneta", "ab_reactnet18": "bnfree_reactnet18"}
#: larq-zoo models in the comparison, by the A&B model's backbone class
LARQ_ZOO = {
    "ab_reactneta": ("QuickNetSmall", "QuickNet", "QuickNetLarge"),
    "default": ("QuickNetSmall", "QuickNet", "QuickNetLarge", "BiRealNet"),
}


def full_precision_counterpart(model: tf.keras.Model) -> tf.keras.Model:
    """The same network, with the same weights, as a float network deploys it: every
    binary conv a full-precision ScaledStd conv (no sign), every Q-PReLU a PReLU with its
    power-of-two slopes (TFLite's PRELU, which XNNPACK runs; the training form would
    convert to GREATER/SELECT/MUL). The weights are copied: `clone_model` re-initialises
    them, and a fresh model's zero biases would vanish in conversion (a cheaper file)."""

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, layers.BinaryScaledStdConv2D):
            for key in layers.BINARY_CONV_KEYS:
                config.pop(key, None)
            config["input_quantizer"] = None
            return layers.ScaledStdConv2D.from_config(config)
        if isinstance(layer, layers.QuantRPReLU):
            return tf.keras.layers.PReLU(shared_axes=[1, 2], name=layer.name)
        return layer.__class__.from_config(config)

    full = tf.keras.models.clone_model(model, clone_function=clone)
    full._name = f"{model.name}_full_precision"
    for source in model.layers:
        target = full.get_layer(source.name)
        if isinstance(source, layers.QuantRPReLU):
            target.set_weights([np.exp2(source.exponents).reshape(1, 1, -1)])
        else:
            target.set_weights(source.get_weights())
    return full


#: The smallest input the comparison's networks take: every one has the ImageNet stem (as
#: larq-zoo's), whose maps are smaller than a kernel below it (fold refuses those).
SMALLEST_INPUT = 64


def check_comparable(input_shape) -> None:
    """Refuse, before any work, what `compare` cannot do: larq-zoo missing (the `[bench]`
    extra), or inputs smaller than `SMALLEST_INPUT`."""
    import importlib.util

    if min(input_shape[:2]) < SMALLEST_INPUT:
        raise ValueError(
            f"--compare builds every network with the ImageNet stem, as larq-zoo's are, which "
            f"needs inputs of at least {SMALLEST_INPUT} px: --input-shape "
            f"{SMALLEST_INPUT},{SMALLEST_INPUT},3 or larger (got {input_shape[0]}x{input_shape[1]})"
        )
    if importlib.util.find_spec("larq_zoo") is None:
        raise ImportError(
            "--compare times larq-zoo's QuickNet and BiRealNet models: "
            'pip install "larq-abbnn[bench]" (larq-zoo 2.4.0)'
        )


def _larq_zoo_model(name: str, input_shape) -> tf.keras.Model:
    import larq_zoo

    family = larq_zoo.literature if name == "BiRealNet" else larq_zoo.sota
    return getattr(family, name)(input_shape=input_shape, weights=None)


def candidates(name: str, input_shape=(224, 224, 3)) -> list[tuple[str, Callable[[], bytes], str]]:
    """(label, converter, interpreter) of every model in the comparison, A&B model first."""
    from larq_abbnn.converters.formats import lce_flatbuffer

    # larq-zoo's networks have ImageNet stems at every input size: so do ours here (the
    # zoo's default would give inputs up to 64 px the full-resolution CIFAR stem)
    build = functools.partial(zoo.get(name), stem="imagenet")
    rows = [
        (f"{name} (A&B)", lambda: convert(trained_looking(build(input_shape=input_shape))), "lce")
    ]
    if name in COUNTERPARTS:
        other = functools.partial(zoo.get(COUNTERPARTS[name]), stem="imagenet")
        rows.append(
            (
                f"{COUNTERPARTS[name]} (BN-Free)",
                lambda: convert(trained_looking(other(input_shape=input_shape))),
                "lce",
            )
        )
    for zoo_name in LARQ_ZOO.get(name, LARQ_ZOO["default"]):
        rows.append(
            (
                f"{zoo_name} (larq-zoo)",
                lambda n=zoo_name: lce_flatbuffer(_larq_zoo_model(n, input_shape)),
                "lce",
            )
        )

    def full_precision() -> bytes:
        model = full_precision_counterpart(trained_looking(build(input_shape=input_shape)))
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()

    rows.append((f"{name} full precision (TFLite+XNNPACK)", full_precision, "tflite"))
    return rows


def compare(
    name: str,
    input_shape=(224, 224, 3),
    *,
    threads: int = 1,
    runs: int = 10,
    rounds: int = 3,
    save_dir: str | None = None,
    kernel: str | None = None,
    progress: bool = False,
) -> list[Measurement]:
    """Convert every candidate, time them in `rounds` interleaved rounds, audit them.

    `save_dir` keeps the converted files (e.g. to time them on a Raspberry Pi too);
    `kernel` is LCE's binary conv kernel for every binary model (`kernels.KERNELS`;
    default `default_kernel()`);
    `progress` shows a bar (on stderr) over the conversions and timings.
    """
    check_comparable(input_shape)
    todo = candidates(name, input_shape)
    bar = tqdm(total=len(todo) * (1 + rounds), unit="task", disable=not progress)
    files = []
    for label, convert_fn, interpreter in todo:
        bar.set_description(f"converting {label}")
        files.append((label, convert_fn(), interpreter))
        bar.update()
    if save_dir is not None:
        for label, flatbuffer, _ in files:
            stem = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_").lower()
            atomic_write_bytes(os.path.join(save_dir, f"{stem}.tflite"), flatbuffer)
    timings: dict[str, list[Measurement]] = {label: [] for label, _, _ in files}
    for round_ in range(rounds):
        for label, flatbuffer, interpreter in files:
            bar.set_description(f"timing round {round_ + 1}/{rounds}: {label}")
            timings[label].append(
                measure(
                    flatbuffer,
                    name=label,
                    threads=threads,
                    runs=runs,
                    interpreter=interpreter,
                    kernel=kernel,
                )
            )
            bar.update()
    bar.close()
    rows = []
    for label, flatbuffer, interpreter in files:
        row = timings[label][0]
        row.median_ms = statistics.median(m.median_ms for m in timings[label])
        row.min_ms = min(m.min_ms for m in timings[label])
        if interpreter == "lce":
            audit = count_multiplications(flatbuffer)
            row.binary_macs, row.multiplications = audit.binary_macs, audit.full_precision
        else:
            row.binary_macs = 0
        rows.append(row)
    return rows
