"""Writing output files so that a reader never sees a partial one.

Each write goes to a hidden temporary beside the target (`.NAME.XXXX.tmp`, keeping the
extension where the writer needs it), renamed over the target when complete. A process
killed mid-write (SIGKILL, power loss) cannot delete its temporary; the next write to
the same target removes such leftovers. Two processes writing one target at once are
not supported (the last rename would win anyway).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator


def _temporary(path: str, suffix: str) -> tuple[int, str]:
    """A new temporary file beside `path`, after removing leftovers of earlier writes."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp*")):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _permissions() -> int:
    """The mode a plain `open()` would give a new file: 0o666 less the umask (mkstemp's
    temporaries are 0o600, which would leave other users unable to read the outputs)."""
    return 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    An interrupted write leaves the old file (or none), never a truncated one.
    """
    path = os.fspath(path)
    fd, tmp = _temporary(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _permissions())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside `path` (same extension) that becomes `path` on success.

    For writers that take a file name (`model.save`, CSV writers); the extension is kept
    because Keras chooses the format by it.
    """
    path = os.fspath(path)
    fd, tmp = _temporary(path, f".tmp{os.path.splitext(path)[1]}")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _permissions())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike, *, replaces: Callable[[str], bool] = lambda folder: False
) -> Iterator[str]:
    """A temporary folder beside `path` that becomes the folder `path` on success, for
    writers of many files (an hls4ml project).

    An existing `path` is replaced when it is empty or `replaces(path)` says it is an
    earlier output of the same writer; anything else is refused before a file is written
    (`check_writable_folder`). Between moving the old folder aside and renaming the new one
    there is an instant with neither, never a half-written one.
    """
    path = os.path.abspath(os.fspath(path))
    check_writable_folder(path, replaces=replaces)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    for stale in glob.glob(os.path.join(glob.escape(parent), glob.escape(prefix) + "*.tmp")):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=".tmp")
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if os.path.exists(path):
            old = tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=".old.tmp")
            os.rename(path, os.path.join(old, "old"))
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def check_writable_folder(
    path: str | os.PathLike, *, replaces: Callable[[str], bool] = lambda folder: False
) -> None:
    """Raise naming `path` if a folder cannot be written there, before a long job makes it:
    an existing `path` must be a folder, empty or one `replaces` accepts (an earlier output
    of the same writer), and its parent writable."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise NotADirectoryError(f"cannot write the folder {path}: it is a file")
        if os.listdir(path) and not replaces(path):
            raise FileExistsError(
                f"cannot write the folder {path}: it holds other files (give a new or empty "
                "folder; an earlier output of the same command is replaced)"
            )
    check_writable(os.path.join(path, "_"))


def check_writable(path: str | os.PathLike) -> None:
    """Raise `PermissionError` naming `path` if it cannot be written, before a long job
    makes it: its folder (or the nearest existing parent, where the folder would be
    created) must be writable, and an existing `path` must not be a folder."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    folder = os.path.dirname(path)
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"cannot write {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: {folder} is not writable")


def write_json(path: str | os.PathLike, data) -> None:
    """`data` as indented JSON, written atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
