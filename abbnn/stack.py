"""The TensorFlow stacks larq-abbnn runs on, and what TensorFlow reads at its first import:
Keras 2, and its oneDNN kernels on x86-64 Linux.

Larq 0.14 needs Keras 2. TensorFlow 2.15 ships it as its own `tf.keras`; 2.16 and newer
ship Keras 3 there, and serve the `tf_keras` package (Keras 2) as `tf.keras` only when
`TF_USE_LEGACY_KERAS=1` is set before TensorFlow is first imported. TensorFlow reads the
variable once, at its first import (measured on 2.21: set after `import tensorflow`, larq
fails with `LegacyOptimizerWarning has no attribute 'iterations'`). So the CLI, `import
larq_abbnn` and the tests call `select()` before they import TensorFlow, and
`problem()` words what to do when TensorFlow came first. TensorFlow 2.15 honours the
variable too (measured: it then asks for tf_keras, and without it `tf.keras` recurses
without end), so it is set only where the tf_keras package is installed.

Supported (measured in `.ci/run` and the README): TensorFlow 2.15, and 2.19 to 2.21 with
`tf_keras`. tf_keras 2.16-2.18 break on Python 3.12 (`randint(1, 1e9)` in
`tf_keras/src/backend.py` raises `TypeError` once a seed is set), so they are left out.

oneDNN: TensorFlow's x86 Linux wheels carry oneDNN's convolutions, but switch them on only
where the CPU has AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (`IsMklEnabled` in
tensorflow/core/util/util.cc); elsewhere, e.g. an AMD EPYC with AVX2, convolutions run on
Eigen's kernels. PyTorch, the authors' framework, uses oneDNN on every x86 CPU. Measured
(issue 35, `benchmarks/training_throughput.py` on an Intel Xeon with both frameworks capped at
AVX2): ours / the authors' training steps 0.94 / 0.95 on Eigen, 1.16-1.20 / 1.17-1.19 on
oneDNN (two sessions); on the AMD EPYC host, on Eigen, 1.02 / 1.03. So
`TF_ENABLE_ONEDNN_OPTS=1` is set where it is unset, on x86-64 Linux only (where it was
measured); `TF_ENABLE_ONEDNN_OPTS=0` keeps Eigen. Exact tests run in float64, which oneDNN
does not serve (Eigen runs them on every host).

`select()` sets both before TensorFlow's first import; the CLI, `import larq_abbnn`, the
tests and the benchmarks call it, and setup.py's start-up hook does the same at every start
of an environment larq-abbnn is installed into. This module imports nothing heavy, so the CLI
stays fast (floor 0, as `abbnn.recipe`).
"""

from __future__ import annotations

import importlib.util
import os
import sys

#: TensorFlow minor versions larq-abbnn supports (setup.py's extras install these).
TENSORFLOW_VERSIONS = ("2.15", "2.19", "2.20", "2.21")
#: The one that ships Keras 2 as its own tf.keras; the others need tf_keras.
OWN_KERAS_2 = "2.15"
VARIABLE = "TF_USE_LEGACY_KERAS"
#: TensorFlow's switch for its oneDNN kernels (read once, at its first import)
ONEDNN = "TF_ENABLE_ONEDNN_OPTS"
_INSTALL = 'pip install "larq-abbnn[tensorflow]" (or [tensorflow_gpu]; [tensorflow215] for 2.15)'


def has_tf_keras() -> bool:
    """Whether the tf_keras package is installed (found, not imported)."""
    return importlib.util.find_spec("tf_keras") is not None


def onednn_host() -> bool:
    """x86-64 Linux: where TensorFlow's wheels carry oneDNN and its speed was measured."""
    return sys.platform.startswith("linux") and os.uname().machine == "x86_64"


def select() -> None:
    """Before TensorFlow's first import, where the user has not set them: Keras 2 from the
    tf_keras package as `tf.keras` (where it is installed), and oneDNN's kernels (on x86-64
    Linux). After TensorFlow has loaded, it changes nothing (TensorFlow read them already)."""
    if "tensorflow" in sys.modules:
        return
    if has_tf_keras():
        os.environ.setdefault(VARIABLE, "1")
    if onednn_host():
        os.environ.setdefault(ONEDNN, "1")


def minor(version: str) -> str:
    """'2.21.0' -> '2.21'."""
    return ".".join(version.split(".")[:2])


def problem(
    tensorflow_version: str, layer_module: str | None, tf_keras_installed: bool
) -> str | None:
    """Why this TensorFlow cannot run larq-abbnn, or None if it can.

    `layer_module` is `tf.keras.layers.Layer.__module__` (None where tf.keras cannot be
    imported): `tf_keras.src.engine...` for the tf_keras package, `keras.src.engine...` for
    TensorFlow 2.15's own Keras 2, `keras.src.layers...` for Keras 3. (`tf.keras.__name__`
    would not do: it reads `tensorflow.keras` once larq has imported Keras, measured.)
    `tf_keras_installed` is `has_tf_keras()`.
    """
    supported = ", ".join(v for v in TENSORFLOW_VERSIONS if v != OWN_KERAS_2)
    found = minor(tensorflow_version)
    if found not in TENSORFLOW_VERSIONS:
        return (
            f"larq-abbnn runs on TensorFlow {OWN_KERAS_2} or {supported} (Larq needs Keras 2), "
            f"found {tensorflow_version}: {_INSTALL}"
        )
    if layer_module is None:  # the variable asks for tf_keras, which is not there
        return (
            f"TensorFlow {tensorflow_version} cannot import tf.keras with {VARIABLE}="
            f"{os.environ.get(VARIABLE)}: that asks for the tf_keras package, which is not "
            f'installed: pip install "tf_keras~={found}.0"'
            + (f", or unset {VARIABLE}" if found == OWN_KERAS_2 else f" (or {_INSTALL})")
        )
    if found == OWN_KERAS_2 or layer_module.startswith("tf_keras."):
        return None
    if not tf_keras_installed:
        return (
            f"TensorFlow {tensorflow_version} serves Keras 2, which Larq needs, from the "
            f'tf_keras package, which is not installed: pip install "tf_keras~={found}.0" '
            f"(or {_INSTALL})"
        )
    return (
        f"TensorFlow {tensorflow_version} was imported with Keras 3 as tf.keras (before "
        f"larq_abbnn, without {VARIABLE}=1), and Larq needs Keras 2: import larq_abbnn "
        f"before tensorflow, or set {VARIABLE}=1 in the environment before Python starts"
    )
