"""Other forms of the QONNX export, as qonnx `Transformation`s over its NCHW graph (the
style of qonnx's `transformation/`: one rewrite per class, `model.transform(Pass())`;
`model` is always a qonnx `ModelWrapper`).

Each computes the same function as the graph it rewrites (tests/test_qonnx.py runs each
against the export it started from):

- `PadBinaryWithOnes`: a binary conv that pads its +-1 input with zeros pads it with +1
  (a `Pad`) and subtracts what the +1s add after the conv (an `Add` of integers, exact
  in float32). The form qonnx's XNOR-popcount transform takes (its {0, 1} code has no
  zero; `qonnx_xnor`), and hls4ml's (it pads a binary input with its code 0, i.e. -1).
- `PadBeforeSign`: a `Pad` of +1 after a sign becomes a `Pad` of 0 before it (sign(0) =
  +1): hls4ml's `Pad` pads zeros only.
- `PReLUAsRelus`: `PRelu(x, a)` as `relu(x) - a * relu(-x)`: hls4ml 1.3's ONNX reader
  drops a `PRelu`'s slope.
- `HeadPoolAsAveragePool`: the head's `GlobalAveragePool` as an `AveragePool` over the
  whole map: hls4ml reads a 4-D `GlobalAveragePool`'s shape as NCHW in its channels-last
  form.
- `GemmAsMatMul`: the head's `Gemm` as `MatMul` + `Add`, which hls4ml reads.
- `ToChannelsLast`: NHWC tensors, Conv and the pools in qonnx's channels-last domain
  (weights OHWI), per-channel constants (C,) and per-position ones (H, W, C), names
  without dots (hls4ml renames constants with dots but not the references to them, and
  writes names into C++). Built once, from the NCHW graph's inferred shapes. qonnx's
  `ConvertToChannelsLastAndClean` does not serve: it wraps ops it has no channels-last
  form of (`BipolarQuant`, `Pad`, `PRelu`) in `Transpose` pairs, which hls4ml cannot read.
  qonnx's executor cannot run the result (it has no channels-last `AveragePool`).

qonnx is the `[onnx]` extra: import this module only where it is installed.
"""

from __future__ import annotations

import re

import numpy as np

try:  # qonnx is the [onnx] extra; without it the module still imports (the API reference)
    from qonnx.transformation.base import Transformation
except ImportError:  # pragma: no cover - the passes need qonnx to run anyway
    Transformation = object

from larq_abbnn.converters import contract
from larq_abbnn.converters.extras import onnx_module as _onnx
from larq_abbnn.converters.qonnx.export import CHANNELS_LAST_DOMAIN, per_channel
from larq_abbnn.converters.qonnx.runtime import infer_shapes
from larq_abbnn.layers_base import one_padding_correction


def _attribute(node, name: str, default=None):
    onnx = _onnx()
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _set_attribute(node, name: str, value) -> None:
    onnx = _onnx()
    for attribute in list(node.attribute):
        if attribute.name == name:
            node.attribute.remove(attribute)
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _node(op: str, inputs: list[str], name: str, domain: str = "", **attributes):
    return _onnx().helper.make_node(op, inputs, [name], name=name, domain=domain, **attributes)


def _insert_after(graph, anchor, *nodes) -> None:
    index = list(graph.node).index(anchor) + 1
    for offset, node in enumerate(nodes):
        graph.node.insert(index + offset, node)


def _replace(graph, old, *nodes) -> None:
    """`nodes` where `old` was, in the graph's (topological) order."""
    _insert_after(graph, old, *nodes)
    graph.node.remove(old)


def _constant(model, name: str, value, dtype=np.float32) -> str:
    model.set_initializer(name, np.asarray(value, dtype))
    return name


def _redirect(model, old: str, new: str, *, but=()) -> None:
    """Every reader of tensor `old`, except the nodes `but`, reads `new` instead."""
    for node in model.graph.node:
        if node in but:
            continue
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new
    for output in model.graph.output:
        if output.name == old:
            raise ValueError(f"cannot redirect the graph's output {old!r}")


def _is_sign(model, node) -> bool:
    """A `BipolarQuant` of an activation (a binary conv's input sign), not of weights."""
    return (
        node is not None
        and node.op_type == "BipolarQuant"
        and model.get_initializer(node.input[0]) is None
    )


def _binary_kernel(model, conv) -> np.ndarray | None:
    """A `Conv`'s +-1 kernel (OIHW) where its weights are a `BipolarQuant` of a constant."""
    producer = model.find_producer(conv.input[1])
    if producer is None or producer.op_type != "BipolarQuant":
        return None
    kernel = model.get_initializer(producer.input[0])
    return None if kernel is None else np.where(kernel >= 0, 1.0, -1.0)


class PadBinaryWithOnes(Transformation):
    """A binary conv (a sign's output into +-1 weights) padded with zeros by its `pads`:
    `Pad` of +1 after the sign, `pads` 0, and an `Add` after the conv of minus what the
    +1s add (`layers_base.one_padding_correction`), per output position."""

    def apply(self, model):
        graph = model.graph
        changed = False
        for conv in list(graph.node):
            pads = _attribute(conv, "pads", [0, 0, 0, 0])
            kernel = _binary_kernel(model, conv) if conv.op_type == "Conv" else None
            if kernel is None or not any(pads):
                continue
            if not _is_sign(model, model.find_producer(conv.input[0])):
                continue
            base = conv.name.removesuffix("/conv")
            _, _, h, w = model.get_tensor_shape(conv.input[0])
            correction = one_padding_correction(
                np.transpose(kernel, (2, 3, 1, 0)),  # OIHW -> HWIO
                (h, w),
                pads,
                _attribute(conv, "strides", [1, 1]),
                _attribute(conv, "dilations", [1, 1]),
            )
            top, left, bottom, right = pads
            axis_pads = [0, 0, top, left, 0, 0, bottom, right]
            pad = _node(
                "Pad",
                [
                    conv.input[0],
                    _constant(model, f"{base}.pads", axis_pads, np.int64),
                    _constant(model, f"{base}.pad_value", 1.0),
                ],
                f"{base}/pad",
                mode="constant",
            )
            graph.node.insert(list(graph.node).index(conv), pad)
            conv.input[0] = pad.output[0]
            _set_attribute(conv, "pads", [0, 0, 0, 0])
            minus = _constant(model, f"{base}.padding_correction", per_channel(-correction))
            corrected = _node("Add", [conv.output[0], minus], f"{base}/padding_correction")
            _redirect(model, conv.output[0], corrected.output[0])
            _insert_after(graph, conv, corrected)
            changed = True
        return _with_shapes(model, changed), False


class PadBeforeSign(Transformation):
    """`sign(x)` padded with +1 as `sign(x padded with 0)`: the same, as sign(0) = +1."""

    def apply(self, model):
        graph = model.graph
        changed = False
        for pad in list(graph.node):
            if pad.op_type != "Pad" or len(pad.input) < 3:
                continue
            sign = model.find_producer(pad.input[0])
            if not _is_sign(model, sign) or model.get_initializer(pad.input[2]) != 1.0:
                continue
            if len(model.find_consumers(sign.output[0])) != 1:
                continue
            model.set_initializer(pad.input[2], np.asarray(0.0, np.float32))
            _redirect(model, pad.output[0], sign.output[0], but=(sign,))
            pad.input[0] = sign.input[0]
            sign.input[0] = pad.output[0]
            graph.node.remove(pad)
            graph.node.insert(list(graph.node).index(sign), pad)
            changed = True
        return _with_shapes(model, changed), False


class PReLUAsRelus(Transformation):
    """`PRelu(x, a)` as `Relu(x) + (-a) * Relu(-x)`, its output's name kept."""

    def apply(self, model):
        graph = model.graph
        prelus = [node for node in graph.node if node.op_type == "PRelu"]
        for prelu in prelus:
            x, name = prelu.input[0], prelu.output[0]
            slopes = model.get_initializer(prelu.input[1])
            nodes = [
                _node("Relu", [x], f"{name}/positive"),
                _node("Mul", [x, _constant(model, f"{name}.minus_one", -1.0)], f"{name}/flip"),
                _node("Relu", [f"{name}/flip"], f"{name}/negative"),
                _node(
                    "Mul",
                    [f"{name}/negative", _constant(model, f"{name}.minus_slope", -slopes)],
                    f"{name}/slope",
                ),  # fmt: skip
                _node("Add", [f"{name}/positive", f"{name}/slope"], name),
            ]
            _replace(graph, prelu, *nodes)
            graph.initializer.remove(next(i for i in graph.initializer if i.name == prelu.input[1]))
        return _with_shapes(model, bool(prelus)), False


class HeadPoolAsAveragePool(Transformation):
    """`GlobalAveragePool` as an `AveragePool` whose window is the whole map."""

    def apply(self, model):
        graph = model.graph
        for pool in [node for node in graph.node if node.op_type == "GlobalAveragePool"]:
            size = list(model.get_tensor_shape(pool.input[0])[2:])
            node = _node("AveragePool", list(pool.input), pool.output[0], kernel_shape=size,
                         strides=size, pads=[0, 0, 0, 0])  # fmt: skip
            node.name = pool.name
            _replace(graph, pool, node)
        return model, False


class GemmAsMatMul(Transformation):
    """`Gemm(x, W, b)` (no transposes, unit alpha and beta) as `Add(MatMul(x, W), b)`."""

    def apply(self, model):
        graph = model.graph
        gemms = [node for node in graph.node if node.op_type == "Gemm"]
        for gemm in gemms:
            plain = (("transA", 0), ("transB", 0), ("alpha", 1.0), ("beta", 1.0))
            if any(_attribute(gemm, name, value) != value for name, value in plain):
                raise ValueError(f"Gemm '{gemm.name}' has transposes or scales: not a Dense")
            name = gemm.output[0]
            if len(gemm.input) == 2:
                nodes = [_node("MatMul", list(gemm.input), name)]
            else:
                nodes = [_node("MatMul", list(gemm.input[:2]), f"{name}/matmul"),
                         _node("Add", [f"{name}/matmul", gemm.input[2]], name)]  # fmt: skip
            _replace(graph, gemm, *nodes)
        return _with_shapes(model, bool(gemms)), False


#: ops whose NCHW form has a channels-last twin in qonnx's channels-last domain
_SPATIAL = ("Conv", "AveragePool", "MaxPool")
#: elementwise ops whose constants are per-channel (C, 1, 1) or per-position (C, H, W)
_ELEMENTWISE = ("Add", "Mul", "Sub", "Div", "PRelu")


def hls4ml_name(name: str) -> str:
    """`layer1.0.conv1/conv` -> `layer1_0_conv1_conv`: hls4ml renames constants with dots
    but not the references to them, and writes names into C++."""
    return re.sub(r"\W", "_", name)


class ToChannelsLast(Transformation):
    """The NCHW export, shapes inferred, as NHWC with hls4ml's names (see the module's
    docstring). Once: a graph already channels-last is left as it is."""

    def apply(self, model):
        graph = model.graph
        if any(node.domain == CHANNELS_LAST_DOMAIN for node in graph.node):
            return model, False
        done: set[str] = set()  # constants rewritten (one may have two readers)
        for node in list(graph.node):
            if node.op_type in _SPATIAL:
                node.domain = CHANNELS_LAST_DOMAIN
                if node.op_type == "Conv":
                    _weights_ohwi(model, node, done)
            elif node.op_type in _ELEMENTWISE:
                for name in node.input[1:]:
                    value = model.get_initializer(name)
                    if value is not None and value.ndim == 3 and name not in done:
                        model.set_initializer(name, _channels_last_constant(value))
                        done.add(name)
            elif node.op_type == "Pad":
                pads = model.get_initializer(node.input[1])
                model.set_initializer(node.input[1], pads[[0, 2, 3, 1, 4, 6, 7, 5]])
            elif node.op_type == "Concat":
                _set_attribute(node, "axis", 3)
            elif node.op_type == "Transpose" and _attribute(node, "perm") == [0, 2, 3, 1]:
                # NCHW -> NHWC before a Flatten: the tensor is NHWC already
                _redirect(model, node.output[0], node.input[0])
                graph.node.remove(node)
        constants = {c.name for c in graph.initializer}
        for value in [v for v in graph.value_info if v.name in constants]:
            graph.value_info.remove(value)  # a constant's shape is its own
        for value in [*graph.input, *graph.value_info]:
            dims = value.type.tensor_type.shape.dim
            if len(dims) == 4:
                n, c, h, w = (d.dim_value for d in dims)
                for d, size in zip(dims, (n, h, w, c)):
                    d.dim_value = size
        _rename(model, hls4ml_name)
        contract.add_to_onnx(model.model, "NHWC", contract.read_input_pixels(model.model))
        return _wrapped(_onnx().shape_inference.infer_shapes(model.model)), False


def _channels_last_constant(value: np.ndarray) -> np.ndarray:
    """(C, 1, 1) -> (C,); (C, H, W) -> (H, W, C): broadcastable to NHWC."""
    if value.shape[1:] == (1, 1):
        return value.reshape(-1)
    return np.transpose(value, (1, 2, 0))


def _weights_ohwi(model, conv, done: set[str]) -> None:
    """A conv's weights (or the constant its `BipolarQuant` reads) OIHW -> OHWI."""
    producer = model.find_producer(conv.input[1])
    binary = producer is not None and producer.op_type == "BipolarQuant"
    name = producer.input[0] if binary else conv.input[1]
    if name not in done:
        model.set_initializer(name, np.transpose(model.get_initializer(name), (0, 2, 3, 1)))
        done.add(name)


def _rename(model, rename) -> None:
    """Every node, tensor and constant renamed by `rename`, kept unique."""
    graph = model.graph
    names: dict[str, str] = {}
    taken: set[str] = set()

    def new(name: str) -> str:
        if not name:
            return name
        if name not in names:
            base, k, candidate = rename(name), 1, rename(name)
            while candidate in taken:
                k += 1
                candidate = f"{base}_{k}"
            taken.add(candidate)
            names[name] = candidate
        return names[name]

    # constants first: the export names a layer's constant ("conv.scale") before its node
    # ("conv/scale"), so that where two names meet the constant keeps the plain one
    for value in graph.initializer:
        value.name = new(value.name)
    for node in graph.node:
        node.name = new(node.name)  # a node's name is its output's: the same new name
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
    for collection in (graph.input, graph.output, graph.value_info):
        for value in collection:
            value.name = new(value.name)
    for annotation in graph.quantization_annotation:
        annotation.tensor_name = new(annotation.tensor_name)


def _wrapped(proto):
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(proto)


def _with_shapes(model, changed: bool):
    """The model with its shapes inferred again, where a rewrite changed tensors."""
    if not changed:
        return model
    del model.graph.value_info[:]  # inferred afresh: a rewrite may change a tensor's shape
    return _wrapped(infer_shapes(model.model))
