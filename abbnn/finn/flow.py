"""An A&B network's QONNX file through FINN, as far as FINN goes without Xilinx's tools:
hardware layers, executed in Python, costed by FINN's estimates.

The steps (`STEPS`), each FINN's or qonnx's own transformation, in the order of FINN's
binary-network examples (CNV-w1a1), with the lowering that makes a binary conv an
XNOR-popcount matrix product:

1. `cleanup`: qonnx's cleanup (shapes, constants folded, names).
2. `qonnx_to_finn`: FINN's `ConvertQONNXtoFINN`: each binary kernel `BipolarQuant`
   folded to its +-1 constant (typed BIPOLAR), each sign `BipolarQuant` a bipolar
   `MultiThreshold`.
3. `streamline`: FINN's `Streamline` (each sign's bias absorbed into its threshold).
4. `lower_convs`: qonnx's `LowerConvsToMatMul` (each conv an `Im2Col` and a `MatMul` in
   NHWC, between `Transpose`s).
5. `xnor_popcount`: qonnx's `ConvertBipolarMatMulToXnorPopcount` (a MatMul of two
   bipolar tensors as `XnorPopcountMatMul` on their {0, 1} codes, then 2 * popcount - K).
6. `hw_layers`: FINN's `InferBinaryMatrixVectorActivation` (each XNOR-popcount product an
   `MVAU` in binaryXnorMode) and `InferConvInpGen` (each integer `Im2Col` a
   `ConvolutionInputGenerator`).

The {0, 1} code has no zero, so a binary conv whose +-1 input is padded with zeros (the
paper's padding) has no exact XNOR form: the file must be written with the +1 padding
and its correction (`abbnn convert MODEL -o m.onnx --pad-binary-with-ones`); a zero-padded
binary conv is refused by name before any step runs.

What FINN does not turn into hardware layers stays a standard ONNX node, executed by
onnxruntime within FINN's executor: the full-precision stem conv and head, the shortcut
convs (real input, binary weights), the binary convs' per-channel scales and biases, the
residual adds, PReLU (FINN has no PReLU layer), the poolings and the layout transposes
(`Result.other_nodes` lists them). FINN's elementwise layers (`ElementwiseMul`, ...) are
not used: FINN 1.6 estimates them at 0 LUT, 0 DSP, which would read as free.

Resource estimates (LUT, BRAM_18K, URAM, DSP) and cycles per frame are FINN's own
analyses (`res_estimation`, `exp_cycles_per_layer`) on the layers specialized for
`fpga_part` (`SpecializeLayers`: HLS or RTL variants), at FINN's default folding (PE =
SIMD = 1: the smallest layers, the most cycles). cppsim, rtlsim and bitfiles need Vitis
HLS and Vivado, which this flow does not call.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Zynq UltraScale+ of the ZCU104 board, FINN's usual example part
DEFAULT_FPGA_PART = "xczu7ev-ffvc1156-2-e"
#: the resources FINN estimates per layer
RESOURCES = ("LUT", "BRAM_18K", "URAM", "DSP")


def _cleanup(model):
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(model)


def _qonnx_to_finn(model):
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    return model.transform(ConvertQONNXtoFINN())


def _streamline(model):
    from finn.transformation.streamline import Streamline

    return model.transform(Streamline())


def _lower_convs(model):
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    return model.transform(LowerConvsToMatMul()).transform(InferDataTypes())


def _xnor_popcount(model):
    from qonnx.transformation.bipolar_to_xnor import ConvertBipolarMatMulToXnorPopcount

    return model.transform(ConvertBipolarMatMulToXnorPopcount())


def _hw_layers(model):
    from finn.transformation.fpgadataflow.convert_to_hw.binary_matrix_vector_activation import (
        InferBinaryMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from qonnx.transformation.general import GiveUniqueNodeNames

    model = model.transform(InferBinaryMatrixVectorActivation()).transform(InferConvInpGen())
    return model.transform(GiveUniqueNodeNames())


#: (name, step): the flow, in order (the module's docstring says what each does)
STEPS: tuple[tuple[str, Callable], ...] = (
    ("cleanup", _cleanup),
    ("qonnx_to_finn", _qonnx_to_finn),
    ("streamline", _streamline),
    ("lower_convs", _lower_convs),
    ("xnor_popcount", _xnor_popcount),
    ("hw_layers", _hw_layers),
)


@dataclass
class Result:
    """The hardware-layer graph and what FINN says of it."""

    model: object  # qonnx ModelWrapper
    #: step name -> seconds
    seconds: dict[str, float] = field(default_factory=dict)
    #: the binary convs of the file (a Conv of two BipolarQuant outputs)
    binary_convs: int = 0

    def hw_layers(self) -> Counter:
        """{op type: count} of the FINN hardware layers."""
        return Counter(n.op_type for n in self.model.graph.node if _is_hw(n))

    def other_nodes(self) -> Counter:
        """{op type: count} of the nodes left as standard ONNX (or qonnx) nodes."""
        return Counter(n.op_type for n in self.model.graph.node if not _is_hw(n))

    def multiplications(self) -> dict[str, dict[str, int]]:
        """The `Mul` nodes left as ONNX nodes, by their constant: {"sign flips" (all +-1),
        "powers of two" (all signed powers of two: shifts in hardware), "other" (real
        multipliers)}: {"nodes", "per_frame" (products per image: the output's size)}.
        This project's count on FINN's graph, not FINN's: FINN costs none of them."""
        kinds = {k: {"nodes": 0, "per_frame": 0} for k in ("sign flips", "powers of two", "other")}
        for node in self.model.graph.node:
            if node.op_type != "Mul" or _is_hw(node):
                continue
            constants = [self.model.get_initializer(i) for i in node.input]
            constant = next((c for c in constants if c is not None), None)
            if constant is None:
                kind = "other"
            elif np.all(np.abs(constant) == 1):
                kind = "sign flips"
            elif _powers_of_two(constant):
                kind = "powers of two"
            else:
                kind = "other"
            kinds[kind]["nodes"] += 1
            kinds[kind]["per_frame"] += int(np.prod(self.model.get_tensor_shape(node.output[0])))
        return kinds

    def xnor_mvaus(self) -> int:
        """The MVAUs in binaryXnorMode: one per binary conv when every one was converted."""
        return sum(
            1
            for n in self.model.graph.node
            if n.op_type == "MVAU" and _attribute(n, "binaryXnorMode") == 1
        )


def _powers_of_two(values) -> bool:
    values = np.abs(np.asarray(values, np.float64))
    return bool(values.size and np.all(values > 0) and np.all(np.frexp(values)[0] == 0.5))


def _is_hw(node) -> bool:
    return node.domain.startswith("finn.custom_op.fpgadataflow")


def _attribute(node, name):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return None


def load(path: str):
    """The QONNX file at `path` as a qonnx `ModelWrapper`; a clear error for a file that
    is no ONNX model or has a binary conv FINN's XNOR code cannot hold."""
    import onnx
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        proto = onnx.load(path)
    except Exception as error:  # onnx's own errors are protobuf's DecodeError and OSError
        raise ValueError(f"{path}: not a valid ONNX file ({error})") from None
    model = ModelWrapper(proto)
    _refuse_zero_padded_binary_convs(model, path)
    return model


def binary_convs(model) -> list:
    """The binary convs of an export: a `Conv` whose weights and input (through +1
    padding) are `BipolarQuant` outputs."""
    found = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        weight = model.find_producer(node.input[1])
        source = model.find_producer(node.input[0])
        if source is not None and source.op_type == "Pad":
            source = model.find_producer(source.input[0])
        if all(p is not None and p.op_type == "BipolarQuant" for p in (weight, source)):
            found.append(node)
    return found


def _refuse_zero_padded_binary_convs(model, path: str) -> None:
    padded = [n.name for n in binary_convs(model) if any(_attribute(n, "pads") or [])]
    if padded:
        more = f" (and {len(padded) - 1} more)" if len(padded) > 1 else ""
        raise ValueError(
            f"{path}: binary conv {padded[0]}{more} pads its +-1 input with zeros, which "
            "FINN's XNOR code {0, 1} cannot hold: write the file with abbnn convert MODEL "
            "-o FILE.onnx --pad-binary-with-ones"
        )


def build(path: str, *, on_step: Callable[[str], None] | None = None) -> Result:
    """The QONNX file at `path` through `STEPS`."""
    model = load(path)
    result = Result(model, binary_convs=len(binary_convs(model)))
    for name, step in STEPS:
        if on_step:
            on_step(name)
        start = time.perf_counter()
        model = step(model)
        result.seconds[name] = time.perf_counter() - start
    result.model = model
    return result


def execute(model, images: np.ndarray) -> np.ndarray:
    """Logits of a QONNX or FINN graph for NHWC float32 `images` (the files take NCHW:
    each image is transposed), one image at a time (the lowering fixes batch 1), in FINN's
    executor (its hardware layers in Python, the rest in onnxruntime)."""
    from finn.core.onnx_exec import execute_onnx

    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    outputs = [
        execute_onnx(model, {name_in: np.transpose(image[None], (0, 3, 1, 2))})[name_out]
        for image in np.asarray(images, np.float32)
    ]
    return np.concatenate(outputs).reshape(len(outputs), -1)


def estimate(model, fpga_part: str = DEFAULT_FPGA_PART) -> dict[str, dict]:
    """{layer: {LUT, BRAM_18K, URAM, DSP, cycles}}: FINN's estimates of the hardware
    layers, specialized for `fpga_part` (a copy: `model` keeps its generic layers, which
    FINN executes in Python)."""
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer
    from finn.analysis.fpgadataflow.res_estimation import res_estimation
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveUniqueNodeNames

    specialized = model.transform(SpecializeLayers(fpga_part)).transform(GiveUniqueNodeNames())
    resources = res_estimation(specialized, fpga_part)
    cycles = exp_cycles_per_layer(specialized)
    return {
        name: {**{key: values[key] for key in RESOURCES}, "cycles": cycles.get(name, 0)}
        for name, values in resources.items()
    }


def totals(estimates: dict[str, dict]) -> dict[str, int]:
    """The resources summed over the layers, and the slowest layer's cycles per frame (the
    dataflow pipeline's initiation interval)."""
    summed = {key: sum(layer[key] for layer in estimates.values()) for key in RESOURCES}
    summed["cycles"] = max((layer["cycles"] for layer in estimates.values()), default=0)
    return summed
