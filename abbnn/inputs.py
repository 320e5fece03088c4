"""The files and folders a command reads, named when they are missing: one check and one
message per kind of input, for the library's readers and the command line alike.

`abbnn` checks the paths it is given with these before TensorFlow loads (each command's
`check`), so a mistyped path is named at once instead of after TensorFlow's start-up
(about 3 s on 2 cores). The readers (`larq_abbnn.analysis.tflite_file.read_tflite`,
`larq_abbnn.checkpoints`, `larq_abbnn.data.folders.scan`, `larq_abbnn.saved_models`, the
training run's `init_from` and teacher) raise the same messages to Python callers, in
their own error types. Imports only `os` and `abbnn.recipe` (the zoo's names), no TensorFlow.
"""

from __future__ import annotations

import os

from abbnn.recipe import MODEL_NAMES

#: kind of input -> what must be at its path
KINDS = {
    "model": os.path.exists,  # a .keras or .h5 file, or a SavedModel folder
    "TFLite file": os.path.isfile,
    "QONNX file": os.path.isfile,
    "checkpoint": os.path.isfile,
    "image folder": os.path.isdir,
    "initial weights": os.path.exists,
    "teacher model": os.path.exists,
    "benchmark log": os.path.isfile,
    "energy table": os.path.isfile,
}


def require(
    path: str | os.PathLike, kind: str, error: type[Exception] = FileNotFoundError, hint: str = ""
) -> None:
    """Raise `error("{kind} not found: {path}{hint}")` unless `path` holds a `kind` (a file,
    a folder or either, as `KINDS` says)."""
    if not KINDS[kind](path):
        raise error(f"{kind} not found: {os.fspath(path)}{hint}")


def require_dataset(dataset: str | None) -> None:
    """A `--dataset` argument: `folder:PATH` must be a folder (`~` expanded, as
    `larq_abbnn.data` reads it); a tfds name is checked where tfds loads it."""
    if dataset and dataset.startswith("folder:"):
        require(os.path.expanduser(dataset[len("folder:") :]), "image folder")


def require_saved_model(spec: str) -> None:
    """A model argument of `convert`, `summary` and `audit` that is not `zoo:NAME`: a saved
    model, any path that exists (each command then reads it by its suffix)."""
    hint = f" is no file or folder, nor zoo:NAME with NAME one of {', '.join(MODEL_NAMES)}"
    require(spec, "model", hint=hint)
