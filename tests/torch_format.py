"""Writing `torch.save`-format checkpoints without PyTorch, for tests.

The pickle refers to `torch.FloatStorage` and `torch._utils._rebuild_tensor_v2` by
name; stand-in modules make the pickler emit those names without importing torch.
"""

import collections
import contextlib
import io
import pickle
import sys
import types
import zipfile

import numpy as np

_STORAGES = {"f4": "FloatStorage", "f8": "DoubleStorage", "f2": "HalfStorage", "i8": "LongStorage"}


def _fake_torch():
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # pragma: no cover - only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in _STORAGES.values():
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch, name, cls)
    return torch, utils


@contextlib.contextmanager
def _stand_in_modules():
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    torch, utils = _fake_torch()
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        yield torch, utils
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Tensor:
    def __init__(self, array, key, torch, utils):
        self.array, self.key, self.torch, self.utils = array, key, torch, utils

    def __reduce__(self):
        storage = _Storage(self.array, self.key, self.torch)
        strides = tuple(s // self.array.itemsize for s in self.array.strides)
        return (
            self.utils._rebuild_tensor_v2,
            (storage, 0, self.array.shape, strides, False, collections.OrderedDict()),
        )


class _Storage:
    def __init__(self, array, key, torch):
        self.array, self.key = array, key
        self.type = getattr(torch, _STORAGES[array.dtype.str[1:]])


def save(state, path, prefix="archive", extra=None, declared_numel=None):
    """torch.save(state) for a dict of numpy arrays; `extra` adds non-tensor entries."""
    storages = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                storages[obj.key] = obj.array
                numel = obj.array.size if declared_numel is None else declared_numel
                return ("storage", obj.type, obj.key, "cpu", numel)
            return None

    with _stand_in_modules() as (torch, utils):
        payload = collections.OrderedDict(
            (k, _Tensor(np.array(v, order="C"), str(i), torch, utils))  # 0-d stays 0-d
            for i, (k, v) in enumerate(state.items())
        )
        if extra:
            payload = {"state_dict": payload, **extra}
        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(payload)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", buffer.getvalue())
        archive.writestr(f"{prefix}/byteorder", "little")
        for key, array in storages.items():
            archive.writestr(
                f"{prefix}/data/{key}", array.astype(array.dtype.newbyteorder("<")).tobytes()
            )
        archive.writestr(f"{prefix}/version", "3\n")


def save_pickle(raw_pickle: bytes, path, prefix="archive"):
    """A checkpoint whose data.pkl is the given bytes (for hostile inputs)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", raw_pickle)
        archive.writestr(f"{prefix}/version", "3\n")
