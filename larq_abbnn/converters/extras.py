"""What each optional file format needs beyond the base install, and the extra that brings
it: one check, read by the format table (`formats`) and by the modules that import the
packages (`converters.qonnx`, `qonnx_xnor`, `hls4ml_flow`), so that neither imports the other
for it (the import map's first cycle was `formats` <-> the QONNX exporter)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    #: the pip extra, `pip install "larq-abbnn[NAME]"`
    name: str
    #: the modules it brings
    modules: tuple[str, ...]
    #: the file name ending of the files that need it, for the message
    suffix: str

    def check_installed(self) -> None:
        """An `ImportError` naming the extra when a module it brings is missing (before a
        model is loaded and folded, not after)."""
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(
                f"{self.suffix} files need {', '.join(missing)}: pip install "
                f'"larq-abbnn[{self.name}]" (README, FPGA flows)'
            )


#: QONNX files: the export, qonnx's executor and its passes.
ONNX = Extra(name="onnx", modules=("onnx", "onnxruntime", "qonnx"), suffix=".onnx")
#: hls4ml projects: the QONNX export read by hls4ml's ONNX front end.
FPGA = Extra(name="fpga", modules=(*ONNX.modules, "hls4ml"), suffix="hls4ml project")


def onnx_module():
    """The `onnx` package, after `ONNX.check_installed` (the extra's error, named once)."""
    ONNX.check_installed()
    import onnx

    return onnx
