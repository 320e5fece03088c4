"""Loading saved Keras models (`.keras`, `.h5`, SavedModel folders) the way every command
and analysis does: the custom layers registered, no compile, and errors that name the
file (h5py's "Unable to synchronously open file (file signature not found)" and zipfile's
"File is not a zip file" do not)."""

from __future__ import annotations

import os

import tensorflow as tf

import larq_abbnn.layers  # noqa: F401  (registers the custom layers for loading)
from abbnn.inputs import require

SUFFIXES = (".keras", ".h5")


def load_keras_file(path: str | os.PathLike) -> tf.keras.Model:
    """The Keras model saved at `path`, uncompiled.

    Raises `FileNotFoundError` or `ValueError` naming `path` when it is missing, has
    another suffix, or does not hold a Keras model.
    """
    path = os.fspath(path)
    require(path, "model")
    if not (path.endswith(SUFFIXES) or os.path.isdir(path)):
        raise ValueError(f"{path}: expected a .keras or .h5 file or a SavedModel folder")
    try:
        return tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"{path} is not a Keras model file (.keras, .h5) or SavedModel folder: {first}"
        ) from error
