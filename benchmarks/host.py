"""The host a benchmark ran on, printed with every figure (issue 35): hosts of one machine
kind differ in vector units (AMD EPYC with AVX2, Intel with AVX-512) and in speed, so
figures from two hosts are not one series.

`describe()` reads /proc/cpuinfo (Linux); elsewhere it names what `platform` knows.
"""

from __future__ import annotations

import os
import platform
import sys

#: the vector extensions that change TensorFlow's and PyTorch's CPU kernels
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def describe() -> str:
    """E.g. "AMD EPYC 7B13, 2 CPUs, avx2 fma (no AVX-512); TensorFlow oneDNN on"; with
    oneDNN's and PyTorch's ISA caps if set."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                if flags and model:
                    break
    except OSError:
        pass
    vector = [flag for flag in VECTOR_FLAGS if flag in flags]
    text = f"{model}, {os.cpu_count()} CPUs, {' '.join(vector) or 'vector units unknown'}"
    if flags and "avx512f" not in flags:
        text += " (no AVX-512)"
    # what caps the vector units below the host's: oneDNN's (TensorFlow's and PyTorch's
    # convolutions) and PyTorch's own kernels
    for cap in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):
        if os.environ.get(cap):
            text += f"; {cap}={os.environ[cap]}"
    # whether TensorFlow's convolutions run on oneDNN or on Eigen (abbnn/stack.py): asked of
    # TensorFlow once it has loaded, else what it will read
    if "tensorflow" in sys.modules:
        from tensorflow.python.util import _pywrap_util_port

        text += f"; TensorFlow oneDNN {'on' if _pywrap_util_port.IsMklEnabled() else 'off'}"
    elif os.environ.get("TF_ENABLE_ONEDNN_OPTS"):
        text += f"; TF_ENABLE_ONEDNN_OPTS={os.environ['TF_ENABLE_ONEDNN_OPTS']}"
    return text
