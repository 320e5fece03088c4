"""The zoo's `weights=`: a Keras weights file or one of the paper's PyTorch checkpoints."""

from __future__ import annotations

import os
import zipfile

import h5py
import tensorflow as tf

from larq_abbnn.checkpoints import load_official_checkpoint

#: What `weights=` accepts, for error messages.
ACCEPTED = (
    "weights accepts None (random initialization), a Keras weights file (.h5 or .keras), "
    "or one of the paper's PyTorch checkpoints (torch.save files such as "
    "ReActNet_A_ImageNet.h5, see `abbnn import-torch`)"
)


def load_weights(model: tf.keras.Model, weights: str | os.PathLike | None) -> None:
    """Fill `model` from Keras weights (HDF5, `.keras`) or a paper's PyTorch checkpoint."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights={weights!r}: {ACCEPTED}.")
    path = os.fspath(weights)
    if not os.path.exists(path):
        if not os.path.splitext(path)[1] and os.sep not in path:  # "imagenet", "cifar10"
            raise ValueError(
                f"weights={path!r} is not a file. larq-abbnn downloads no weights: {ACCEPTED}."
            )
        raise FileNotFoundError(f"weights file not found: {path} ({ACCEPTED})")
    if path.endswith(".keras") or h5py.is_hdf5(path):
        model.load_weights(path)
        return
    if zipfile.is_zipfile(path):  # torch.save's format (the paper's files are named .h5)
        load_official_checkpoint(model, path)
        return
    raise ValueError(
        f"{path} is neither a Keras weights file (HDF5 or .keras) nor a PyTorch "
        f"checkpoint (torch.save zip); {ACCEPTED}."
    )
