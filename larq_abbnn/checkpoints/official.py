"""Filling zoo models from the paper's released PyTorch checkpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from larq_abbnn.checkpoints.reference_layout import reference_entries
from larq_abbnn.checkpoints.torch_checkpoint import CheckpointError, read_state_dict

Source = str | os.PathLike | Mapping[str, object]

_SHOWN = 12  # offending keys listed per kind; the rest are counted


@dataclass(frozen=True)
class ImportReport:
    """What `load_official_checkpoint` filled."""

    source: str
    model: str
    tensors: int
    parameters: int
    stripped_prefix: str

    def __str__(self) -> str:
        prefix = f" (key prefix '{self.stripped_prefix}' removed)" if self.stripped_prefix else ""
        return (
            f"loaded {self.tensors} tensors, {self.parameters:,} parameters from "
            f"{self.source} into {self.model}{prefix}"
        )


def _as_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, when the caller has PyTorch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _strip_data_parallel_prefix(state: dict) -> tuple[dict, str]:
    """Checkpoints saved from `nn.DataParallel` prefix every key with `module.`."""
    prefix = "module."
    if state and all(key.startswith(prefix) for key in state):
        return {key[len(prefix) :]: value for key, value in state.items()}, prefix
    return state, ""


def _listing(title: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    shown = [f"    {line}" for line in lines[:_SHOWN]]
    if len(lines) > _SHOWN:
        shown.append(f"    ... and {len(lines) - _SHOWN} more")
    return [f"  {title} ({len(lines)}):", *shown]


def load_official_checkpoint(model: tf.keras.Model, source: Source) -> ImportReport:
    """Fill a zoo model (A&B or BN-Free, either step, any stem) from a reference state dict.

    `source` is a `torch.save` checkpoint file (read without PyTorch and without running
    pickle code; see `read_state_dict`) or a mapping of names to arrays or tensors. Keys
    may carry the `module.` prefix of `nn.DataParallel`. Kernels go from OIHW to HWIO,
    `(1, C, 1, 1)` biases and `(O, 1, 1, 1)` gains to `(C,)`, PReLU slopes to Keras's
    `(1, 1, C)`, the Linear head `fc` from (out, in) to (in, out).

    Every key, shape and value is checked before anything is assigned: on any error
    the model's weights are unchanged, and one `CheckpointError` lists the missing,
    unexpected and mis-shaped keys with expected and found shapes.
    """
    if isinstance(source, Mapping):
        name = "state dict"
        state = {str(key): _as_numpy(value) for key, value in source.items()}
        if len(state) != len(source):
            raise CheckpointError("state dict keys collide once written as strings")
    else:
        name = os.fspath(source)
        state = read_state_dict(name)
    state, prefix = _strip_data_parallel_prefix(state)
    entries = reference_entries(model)

    missing = [f"{k} {e.reference_shape}" for k, e in entries.items() if k not in state]
    unexpected = [f"{k} {tuple(v.shape)}" for k, v in state.items() if k not in entries]
    mismatched = [
        f"{k} expected {e.reference_shape}, found {tuple(state[k].shape)}"
        for k, e in entries.items()
        if k in state and tuple(state[k].shape) != e.reference_shape
    ]
    not_finite = [
        k for k in entries if k in state and not np.all(np.isfinite(state[k].astype(np.float64)))
    ]
    if missing or unexpected or mismatched or not_finite:
        lines = [
            f"{name} does not fit model '{model.name}' ({len(entries)} tensors expected, "
            f"{len(state)} found):",
            *_listing("missing keys, with the expected shape", missing),
            *_listing("unexpected keys, with the found shape", unexpected),
            *_listing("shape mismatches", mismatched),
            *_listing("keys with NaN or infinite values", not_finite),
        ]
        raise CheckpointError("\n".join(lines))

    values = [
        (entry.variable, entry.to_keras(state[key]).astype(entry.variable.dtype.as_numpy_dtype))
        for key, entry in entries.items()
        if entry.variable is not None  # BatchNorm's num_batches_tracked
    ]
    for variable, value in values:
        variable.assign(value)
    return ImportReport(
        source=name,
        model=model.name,
        tensors=len(values),
        parameters=int(sum(value.size for _, value in values)),
        stripped_prefix=prefix,
    )
