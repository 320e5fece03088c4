"""Reading the paper's released PyTorch checkpoints without PyTorch, and safely.

`torch.save` writes a zip archive: `<name>/data.pkl` is a pickle of the state dict whose
tensors point, through persistent ids, at raw little-endian storages `<name>/data/<key>`.
A pickle can call any importable function, so a checkpoint is untrusted input: this
reader's unpickler resolves only the handful of globals a state dict needs (an
`OrderedDict`, tensor rebuilding, storage types) to inert stand-ins and refuses any
other, before anything is called. No torch import, so it also runs on a Raspberry Pi.

Hand-written because `torch.load(weights_only=True)` needs PyTorch (a large install for
a converter) and there is no torch-free reader of this format in the stack.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from collections.abc import Mapping

import numpy as np

from abbnn.inputs import require

#: torch storage type -> numpy dtype (little-endian; byte order fixed up below)
_STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or whose contents do not fit the model."""


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """`torch._utils._rebuild_tensor_v2` as a bounds-checked numpy view, then a copy."""
    if not isinstance(storage, np.ndarray):
        raise CheckpointError("tensor without a storage")
    size, stride = tuple(size), tuple(stride)
    values = (offset, *size, *stride)
    if not all(isinstance(v, int) and v >= 0 for v in values) or len(size) != len(stride):
        raise CheckpointError(f"malformed tensor (offset {offset}, size {size}, stride {stride})")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise CheckpointError(
            f"tensor of size {size} reaches element {last} of a storage of {storage.size}"
        )
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=[s * itemsize for s in stride], writeable=False
    )
    return np.array(view)


def _rebuild_parameter(data, *_ignored):
    return data


class _UniqueKeyDict(collections.OrderedDict):
    """A state dict whose pickle sets a key twice is refused, not silently overwritten."""

    def __setitem__(self, key, value):
        if key in self:
            raise CheckpointError(f"the checkpoint sets key {key!r} twice")
        super().__setitem__(key, value)


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _UniqueKeyDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._byteorder = byteorder
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}': a checkpoint may only hold "
                "tensors, storages and plain containers"
            ) from None

    def persistent_load(self, pid):
        if not (
            isinstance(pid, tuple)
            and len(pid) == 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and isinstance(pid[4], int)
        ):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if key in self._storages:
            return self._storages[key]
        member = f"{self._prefix}/data/{key}"
        try:
            info = self._archive.getinfo(member)
        except KeyError:
            raise CheckpointError(f"storage {key!r} is missing from the archive") from None
        dtype = storage_type.dtype.newbyteorder(self._byteorder)
        if numel < 0 or info.file_size != numel * dtype.itemsize:
            raise CheckpointError(
                f"storage {key!r} declares {numel} elements of {dtype.itemsize} bytes but "
                f"holds {info.file_size} bytes"
            )
        storage = np.frombuffer(self._archive.read(member), dtype=dtype)
        self._storages[key] = storage
        return storage


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a `torch.save` checkpoint as numpy arrays, without PyTorch.

    Accepts a state dict, or a dict holding one under `"state_dict"` (training
    checkpoints); other entries (epochs, optimizer scalars) are dropped. Raises
    `CheckpointError` naming the file for anything else, and refuses any pickle global
    beyond tensors, storages and `OrderedDict` before it could run.
    """
    path = os.fspath(path)
    require(path, "checkpoint")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise CheckpointError("no single <name>/data.pkl in the archive")
            prefix = pickles[0][: -len("/data.pkl")]
            byteorder = "<"
            if f"{prefix}/byteorder" in archive.namelist():
                order = archive.read(f"{prefix}/byteorder").decode("ascii", "replace")
                byteorder = ">" if order.strip() == "big" else "<"
            unpickler = _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix, byteorder)
            obj = unpickler.load()
    except zipfile.BadZipFile as error:
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (the zip format of torch.save since "
            f"PyTorch 1.6): {error}"
        ) from None
    except (pickle.UnpicklingError, CheckpointError, EOFError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: {error}") from None
    except Exception as error:  # any other damage (zlib, struct, recursion): one clear error
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({type(error).__name__}: {error})"
        ) from None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a state dict")
    state = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, np.ndarray)}
    if not state:
        raise CheckpointError(f"{path} holds no tensors")
    return state
