"""The TensorFlow stacks larq-abbnn runs on, and Keras 2 selected before TensorFlow loads.

Larq 0.14 needs Keras 2. TensorFlow 2.15 ships it as its own `tf.keras`; 2.16 and newer
ship Keras 3 there, and serve the `tf_keras` package (Keras 2) as `tf.keras` only when
`TF_USE_LEGACY_KERAS=1` is set before TensorFlow is first imported. TensorFlow reads the
variable once, at its first import (measured on 2.21: set after `import tensorflow`, larq
fails with `LegacyOptimizerWarning has no attribute 'iterations'`). So the CLI, `import
larq_abbnn` and the tests call `select_keras_2()` before they import TensorFlow, and
`problem()` words what to do when TensorFlow came first.

Supported (measured in `.ci/run` and the README): TensorFlow 2.15, and 2.19 to 2.21 with
`tf_keras`. tf_keras 2.16-2.18 break on Python 3.12 (`randint(1, 1e9)` in
`tf_keras/src/backend.py` raises `TypeError` once a seed is set), so they are left out.
This module imports nothing, so the CLI's `--help` stays fast (floor 0, as `abbnn.recipe`).
"""

from __future__ import annotations

import os
import sys

#: TensorFlow minor versions larq-abbnn supports (setup.py's extras install these).
TENSORFLOW_VERSIONS = ("2.15", "2.19", "2.20", "2.21")
#: The one that ships Keras 2 as its own tf.keras; the others need tf_keras.
OWN_KERAS_2 = "2.15"
VARIABLE = "TF_USE_LEGACY_KERAS"
_INSTALL = 'pip install "larq-abbnn[tensorflow]" (or [tensorflow_gpu]; [tensorflow215] for 2.15)'


def select_keras_2() -> None:
    """Ask TensorFlow 2.16+ for Keras 2 (`tf_keras`) as `tf.keras`, unless the variable is set
    already; before TensorFlow's first import. TensorFlow 2.15 ignores the variable."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault(VARIABLE, "1")


def minor(version: str) -> str:
    """'2.21.0' -> '2.21'."""
    return ".".join(version.split(".")[:2])


def problem(tensorflow_version: str, keras_module: str | None) -> str | None:
    """Why this TensorFlow cannot run larq-abbnn, or None if it can.

    `keras_module` is `tf.keras.__name__` (None where tf.keras cannot be imported): Keras 2
    is `tf_keras...` (the legacy package) or `keras.api._v2...` (TensorFlow 2.15's own);
    Keras 3 is `keras._tf_keras...` or `keras...`.
    """
    supported = ", ".join(TENSORFLOW_VERSIONS[1:])
    found = minor(tensorflow_version)
    if found not in TENSORFLOW_VERSIONS:
        return (
            f"larq-abbnn runs on TensorFlow {OWN_KERAS_2} or {supported} (Larq needs Keras 2), "
            f"found {tensorflow_version}: {_INSTALL}"
        )
    if found == OWN_KERAS_2:
        return None
    if keras_module is None:
        return (
            f"TensorFlow {tensorflow_version} serves Keras 2 from the tf_keras package, which "
            f'is not installed: pip install "tf_keras~={found}.0" (or {_INSTALL})'
        )
    if not keras_module.startswith("tf_keras"):
        return (
            f"TensorFlow {tensorflow_version} was imported with Keras 3 as tf.keras "
            f"({VARIABLE}={os.environ.get(VARIABLE, '<unset>')} at its first import), and Larq "
            f"needs Keras 2: import larq_abbnn before tensorflow, or set {VARIABLE}=1 in the "
            "environment before Python starts"
        )
    return None
