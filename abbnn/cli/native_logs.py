"""Keeps TensorFlow's native (C++) log lines off the terminal, unless `--debug`.

TensorFlow 2.15 honours `TF_CPP_MIN_LOG_LEVEL`. 2.19+ log through absl, and print lines
before absl is initialised whatever the variable says (measured on 2.21 with level 3:
`WARNING: All log messages before absl::InitializeLog() ...`, the oneDNN and
`cudart_stub` lines at import, `failed call to cuInit` at the first op, XLA's `Compiled
cluster using XLA!` at the first compile). No variable or library call silences them
all, so the CLI routes the process's stderr (file descriptor 2, which C++ and Python
share, so their order is kept) through a thread that drops those lines and passes the
rest on: Python's messages, tracebacks and progress bars (tqdm's `\\r` updates are
passed on at once, not held for a newline). Fatal lines (`F...`) pass, but a crash that
ends the process at once can take its last lines with it: `--debug` shows them unfiltered.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

#: Lines TensorFlow's C++ runtime writes: absl's `I1201 10:00:00.123 ...` and
#: `I0000 00:00:1796...` (info, warning, error), TSL's `2026-12-01 10:00:00.1: I tensorflow/`,
#: absl's note before its initialisation, the second line of the CPU-feature note, and
#: libjpeg's own messages (`Improper call to JPEG library in state 201` before the data
#: pipeline's clear error for a truncated JPEG; `Corrupt JPEG data: ...` warnings).
NATIVE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d\d[.\d]*\s+\d+ \S+:\d+\]"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] \S+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow with the appropriate"
    rb"|Improper call to JPEG library in state \d+|Corrupt JPEG data: |Premature end of JPEG)"
)
#: A line start that may still turn into one of those (held until its newline comes).
_MAYBE_NATIVE = re.compile(
    rb"^(?:[IWE]\d|\d{4}-|WARNING: All|To enable the|Improper call|Corrupt JPEG|Premature end)"
)


def is_native(line: bytes) -> bool:
    """Whether one line (without its newline) is a native TensorFlow log line."""
    return NATIVE.match(line) is not None


class _Filter:
    def __init__(self) -> None:
        sys.stderr.flush()
        self.target = os.dup(2)  # the terminal (or whatever stderr was)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self.read = read
        self.thread = threading.Thread(target=self._pump, name="native-log-filter", daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        while data:
            data = data[os.write(self.target, data) :]

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self.read, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            self._write(b"".join(line + b"\n" for line in lines if not is_native(line)))
            if pending and not _MAYBE_NATIVE.match(pending):  # a progress bar's \r update
                self._write(pending)
                pending = b""
        if pending and not is_native(pending):
            self._write(pending)

    def close(self) -> None:
        sys.stderr.flush()
        os.dup2(self.target, 2)  # closes the pipe's write end: the thread drains and ends
        self.thread.join(timeout=5)
        os.close(self.read)
        os.close(self.target)


_active: _Filter | None = None


def hide() -> None:
    """From now to the end of the process, drop native log lines from stderr (idempotent)."""
    global _active
    if _active is None:
        _active = _Filter()
        atexit.register(restore)


def restore() -> None:
    """Stderr straight to where it went before `hide()`, with everything written so far."""
    global _active
    if _active is not None:
        _active.close()
        _active = None
