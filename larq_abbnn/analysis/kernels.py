"""Which of LCE's `LceBconv2d` kernels runs a file: the interpreter's options by name.

`abbnn.recipe.KERNEL_NAMES` lists the names (the CLI's choices); this module gives each
its interpreter options, and the fastest one on this machine.
"""

from __future__ import annotations

import platform

from abbnn.recipe import KERNEL_NAMES

#: Interpreter options of the kernels that need any ("bgemm" is LCE's default).
_OPTIONS = {
    "indirect_bgemm": {"use_indirect_bgemm": True},
    "reference": {"use_reference_bconv": True},
}

#: LCE's LceBconv2d kernels, as its interpreter and `lce_benchmark_model` select them.
#: "bgemm" is LCE's default (tuned assembly on aarch64); "indirect_bgemm" measured 5-6x
#: faster on this machine's x86-64 (ABReActNetA at 224: 276 -> 43 ms, 1 thread);
#: "reference" is the slow, simple one LCE's tests compare against.
KERNELS = {name: _OPTIONS.get(name, {}) for name in KERNEL_NAMES}


def default_kernel() -> str:
    """LCE's fastest binary conv kernel here: `indirect_bgemm` on x86-64, where `bgemm` has
    no assembly (measured ABReActNetA at 224, 1 thread: 40 vs 215 ms), `bgemm` on ARM."""
    return "indirect_bgemm" if platform.machine().lower() in ("x86_64", "amd64") else "bgemm"
