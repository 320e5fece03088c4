"""Folded Keras models as QONNX files, for FPGA flows (FINN, hls4ml).

The same `fold` as the LCE path, then one ONNX node (or a few) per folded layer, in ONNX's
NCHW layout:

- a sign on a binary conv's input is `BipolarQuant(x, 1)`: +1 for x >= 0, else -1, as
  Larq's `ste_sign`;
- a binary conv's kernel is `BipolarQuant(W, 1)` of its +-1 weights, the `Conv` then
  accumulates signs, and its per-channel output scale (mean |W| times gain, with any
  alpha and BatchNorm the fold joined to it) is a `Mul` after it, its bias (moved
  constants, a BatchNorm's shift) an `Add`. The scale stays out of the quantizer because
  hls4ml merges a unit-scale `BipolarQuant` into a conv's weights, not a per-channel one;
- PyTorch's symmetric zero padding is the `Conv`'s own `pads`; LCE's one padding (fold's
  fix for maps smaller than the kernel) a `Pad` of ones after the sign, with the fold's
  `SpatialBias` correction an `Add`;
- Q-PReLU is a `PRelu` of powers of two; alphas and 2x2 pools what the fold left (a `Mul`
  by 2**-2 only where no binary conv takes it, an `AveragePool`);
- the first conv and the head stay full precision (`Conv`, `Gemm`).

Two more forms of the same function: `pad_binary_with_ones` pads each zero-padded binary
conv's +-1 input with +1 and subtracts what the +1s add (for qonnx's XNOR-popcount
transform, whose {0, 1} code has no zero: `qonnx_xnor`), and `channels_last` writes what
hls4ml 1.3's ONNX front end reads (`hls4ml_flow`).

QONNX is not part of the base install: `pip install "larq-abbnn[onnx]"` (README, FPGA flows).
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.converters.extras import onnx_module as _onnx
from larq_abbnn.converters.fold import FoldError
from larq_abbnn.graph import inbound_layers, output_layers
from larq_abbnn.layers import SpatialBias
from larq_abbnn.layers_base import dilated_size, symmetric_padding

#: The domain of QONNX's custom ops (`BipolarQuant`), as qonnx's executor looks them up.
QONNX_DOMAIN = "qonnx.custom_op.general"
#: qonnx's channels-last Conv and pools, the only layout hls4ml's ONNX front end reads.
CHANNELS_LAST_DOMAIN = "qonnx.custom_op.channels_last"
#: ONNX opset of the standard nodes (hls4ml's ONNX front end reads 13).
OPSET = 13


def _infer_shapes(proto):
    """Every tensor's shape, by qonnx's `InferShapes` (onnx's own inference cannot type
    the outputs of custom ops such as `BipolarQuant`, nor anything after them)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    return ModelWrapper(proto).transform(InferShapes()).model


class _Graph:
    """The ONNX graph being written: nodes, constants, unique names."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self.names: set[str] = set()
        self.pad_binary_with_ones = False
        self.pad_before_sign = False
        self.channels_last = False

    @property
    def spatial_domain(self) -> str:
        """The domain of Conv and the pools: ONNX's (NCHW) or qonnx's channels-last one."""
        return CHANNELS_LAST_DOMAIN if self.channels_last else ""

    def conv_weights(self, oihw: np.ndarray) -> np.ndarray:
        """A conv's weights: OIHW (ONNX's), or OHWI in the channels-last form (hls4ml's)."""
        return np.transpose(oihw, (0, 2, 3, 1)) if self.channels_last else oihw

    def per_channel(self, value) -> np.ndarray:
        """A per-channel (C,) or per-position (H, W, C) constant, broadcastable to the
        graph's layout: (C, 1, 1) or (C, H, W) in NCHW, as it is in NHWC (no batch axis,
        which hls4ml's constant merging refuses)."""
        value = np.asarray(value, np.float64)
        if self.channels_last:
            return value
        if value.ndim == 1:
            return value.reshape(-1, 1, 1)
        return np.transpose(value, (2, 0, 1))

    def name(self, base: str) -> str:
        if self.channels_last:
            base = hls4ml_name(base)
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def constant(self, base: str, value, dtype=np.float32) -> str:
        name = self.name(base)
        array = np.asarray(value, dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], base: str, domain: str = "", **attributes) -> str:
        output = self.name(base)
        self.nodes.append(
            self.onnx.helper.make_node(
                op, inputs, [output], name=output, domain=domain, **attributes
            )
        )
        return output


def hls4ml_name(name: str) -> str:
    """`layer1.0.conv1/conv` -> `layer1_0_conv1_conv`: hls4ml renames constants with dots
    but not the references to them, and writes names into C++."""
    return re.sub(r"\W", "_", name)


def _value(variable) -> np.ndarray:
    return np.asarray(tf.keras.backend.get_value(variable), np.float64)


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF's "same" padding: (before, after), the extra row or column after."""
    effective = dilated_size(kernel, dilation)
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _conv_pads(layer) -> tuple[list[int], float]:
    """ONNX `pads` (top, left, bottom, right) and the value padded."""
    sizes = layer.input_shape[1:3]
    if layer.requested_padding == "valid":
        return [0, 0, 0, 0], 0.0
    if layer.requested_padding == "symmetric":
        p = [symmetric_padding(k, d) for k, d in zip(layer.kernel_size, layer.dilation_rate)]
        return [p[0], p[1], p[0], p[1]], 0.0
    if any(size is None for size in sizes):
        raise FoldError(f"layer '{layer.name}': QONNX export needs a static input size")
    (top, bottom), (left, right) = (
        _same_pads(size, k, s, d)
        for size, k, s, d in zip(sizes, layer.kernel_size, layer.strides, layer.dilation_rate)
    )
    return [top, left, bottom, right], float(layer.pad_values)


def _conv(g: _Graph, layer, x: str) -> str:
    """A folded conv: sign, padding, conv of binary or real weights, scale, bias."""
    binary_input = layers.has_binary_input(layer)
    binary_weights = layers.has_binary_weights(layer)
    kernel = np.transpose(_value(layer.kernel), (3, 2, 0, 1))  # HWIO -> OIHW
    gain = _value(layer.gain)
    pads, value = _conv_pads(layer)
    signs = np.where(kernel >= 0, 1.0, -1.0)
    # A +-1 input padded with +1s: LCE's one padding, or the reference's zeros with what
    # the +1s add taken away after the conv, in the forms whose +-1 code has no zero
    # (XNOR-popcount's {0, 1}; hls4ml's, which pads a binary input with -1).
    ones = (binary_input and binary_weights and any(pads)
            and (value == 1.0 or g.pad_binary_with_ones))  # fmt: skip
    correction = _border_correction(signs, layer, pads) if ones and value == 0.0 else None
    pad_first = ones and g.pad_before_sign  # hls4ml pads zeros only: sign(0) = +1
    if pad_first:
        x = _pad(g, layer, x, pads, 0.0)
    if binary_input:
        x = g.node("BipolarQuant", [x, g.constant(f"{layer.name}.one", 1.0)],
                   f"{layer.name}/sign", domain=QONNX_DOMAIN)  # fmt: skip
    if (ones or value != 0.0) and not pad_first:
        x = _pad(g, layer, x, pads, 1.0 if ones else value)
    if ones or value != 0.0:
        pads = [0, 0, 0, 0]
    bias = g.per_channel(_value(layer.bias)) if layer.use_bias else None
    if binary_weights:  # ste_sign's +-1 (0 -> +1), the scale after the conv
        w = g.constant(f"{layer.name}.kernel", g.conv_weights(signs))
        w = g.node("BipolarQuant", [w, g.constant(f"{layer.name}.one_w", 1.0)],
                   f"{layer.name}/binary_kernel", domain=QONNX_DOMAIN)  # fmt: skip
        inputs = [x, w]
    else:  # real weights carry their gain; the bias is the conv's own
        weights = g.conv_weights(kernel * gain.reshape(-1, 1, 1, 1))
        inputs = [x, g.constant(f"{layer.name}.kernel", weights)]
        if bias is not None:
            inputs.append(g.constant(f"{layer.name}.bias", bias.reshape(-1)))
    y = g.node(
        "Conv",
        inputs,
        f"{layer.name}/conv" if binary_weights else layer.name,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        pads=pads,
        group=1,  # hls4ml's ONNX reader needs it spelled out
        domain=g.spatial_domain,
    )
    if not binary_weights:
        return y
    if correction is not None:  # what the +1s added: integers, so exact in float32
        y = g.node("Add", [y, g.constant(f"{layer.name}.padding_correction",
                                       g.per_channel(-np.transpose(correction, (1, 2, 0))))],
                   f"{layer.name}/padding_correction")  # fmt: skip
    name = layer.name if bias is None else f"{layer.name}/scale"
    y = g.node("Mul", [y, g.constant(f"{layer.name}.scale", g.per_channel(gain))], name)
    if bias is not None:
        y = g.node("Add", [y, g.constant(f"{layer.name}.bias", bias)], layer.name)
    return y


def _pad(g: _Graph, layer, x: str, pads: list[int], value: float) -> str:
    """`Pad` of `value` around the map; `pads` is (top, left, bottom, right)."""
    top, left, bottom, right = pads
    if g.channels_last:
        axis_pads = [0, top, left, 0, 0, bottom, right, 0]
    else:
        axis_pads = [0, 0, top, left, 0, 0, bottom, right]
    return g.node(
        "Pad",
        [
            x,
            g.constant(f"{layer.name}.pads", axis_pads, np.int64),
            g.constant(f"{layer.name}.pad_value", value),
        ],
        f"{layer.name}/pad",
        mode="constant",
    )


def _border_correction(signs: np.ndarray, layer, pads: list[int]) -> np.ndarray:
    """What padding a conv's input with +1 instead of 0 adds to its output (before the
    scale): the +-1 kernel `signs` (OIHW) summed over input channels, slid over a map
    that is 1 on the padded border and 0 inside. (C, Ho, Wo)."""
    h, w = layer.input_shape[1:3]
    top, left, bottom, right = pads
    border = np.ones((h + top + bottom, w + left + right))
    border[top : top + h, left : left + w] = 0.0
    summed = signs.sum(axis=1)  # (O, kh, kw)
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel_size, layer.strides, layer.dilation_rate
    ho = (border.shape[0] - dilated_size(kh, dh)) // sh + 1
    wo = (border.shape[1] - dilated_size(kw, dw)) // sw + 1
    out = np.zeros((signs.shape[0], ho, wo))
    for i in range(kh):
        for j in range(kw):
            window = border[i * dh : i * dh + (ho - 1) * sh + 1 : sh,
                            j * dw : j * dw + (wo - 1) * sw + 1 : sw]  # fmt: skip
            out += summed[:, i, j, None, None] * window
    return out


def _pool(g: _Graph, layer, x: str, op: str) -> str:
    pool, strides = list(layer.pool_size), list(layer.strides)
    if isinstance(layer, layers.SymmetricMaxPooling2D):
        pads = [layer.symmetric_padding] * 4
    elif layer.padding == "same":
        (top, bottom), (left, right) = (
            _same_pads(size, k, s, 1) for size, k, s in zip(layer.input_shape[1:3], pool, strides)
        )
        pads = [top, left, bottom, right]
    else:
        pads = [0, 0, 0, 0]
    if op == "AveragePool" and any(pads):
        attributes = {"count_include_pad": 0}  # TF averages over the window inside the map
    else:
        attributes = {}
    return g.node(op, [x], layer.name, kernel_shape=pool, strides=strides, pads=pads,
                  domain=g.spatial_domain, **attributes)  # fmt: skip


def _dense(g: _Graph, layer, x: str) -> str:
    kernel = _value(layer.kernel)  # (in, out)
    inputs = [x, g.constant(f"{layer.name}.kernel", kernel)]
    if layer.use_bias:
        inputs.append(g.constant(f"{layer.name}.bias", _value(layer.bias)))
    if g.channels_last:  # hls4ml's ONNX reader takes a Dense as MatMul (+ Add), not Gemm
        y = g.node("MatMul", inputs[:2], f"{layer.name}/matmul" if layer.use_bias else layer.name)
        if layer.use_bias:
            y = g.node("Add", [y, inputs[2]], layer.name)
    else:
        y = g.node("Gemm", inputs, layer.name)
    activation = tf.keras.activations.serialize(layer.activation)
    if activation not in ("linear", None):
        raise FoldError(f"Dense '{layer.name}': activation {activation!r} is not exported")
    return y


def _bias(g: _Graph, layer, sources: list[str]) -> str:
    """LearnableBias (its bias over its divisor) or the fold's SpatialBias: an `Add`."""
    bias = _value(layer.bias) / getattr(layer, "divisor", 1.0)
    return g.node("Add", [sources[0], g.constant(f"{layer.name}.bias", g.per_channel(bias))],
                  layer.name)  # fmt: skip


def _prelu(g: _Graph, layer, sources: list[str]) -> str:
    x, name = sources[0], layer.name
    slopes = _value(layer.alpha).reshape(-1)
    if not g.channels_last:
        return g.node("PRelu", [x, g.constant(f"{name}.slope", g.per_channel(slopes))], name)
    # relu(x) - a * relu(-x): what hls4ml 1.3's ONNX reader takes (it drops PRelu's slope)
    positive = g.node("Relu", [x], f"{name}/positive")
    flipped = g.node("Mul", [x, g.constant(f"{name}.minus_one", -1.0)], f"{name}/flip")
    negative = g.node("Relu", [flipped], f"{name}/negative")
    minus_slope = g.constant(f"{name}.minus_slope", g.per_channel(-slopes))
    scaled = g.node("Mul", [negative, minus_slope], f"{name}/slope")
    return g.node("Add", [positive, scaled], name)


def _relu(g: _Graph, layer, sources: list[str]) -> str:
    if layer.max_value is not None:
        raise FoldError(f"ReLU '{layer.name}': a capped ReLU is not exported")
    return g.node("Relu", sources[:1], layer.name)


def _add(g: _Graph, layer, sources: list[str]) -> str:
    y = sources[0]
    for k, other in enumerate(sources[1:]):  # pairwise: hls4ml merges two tensors at a time
        last = k == len(sources) - 2
        y = g.node("Add", [y, other], layer.name if last else f"{layer.name}/{k}")
    return y


def _concatenate(g: _Graph, layer, sources: list[str]) -> str:
    if layer.axis not in (-1, 3):
        raise FoldError(f"Concatenate '{layer.name}': only channel concatenation is exported")
    return g.node("Concat", sources, layer.name, axis=3 if g.channels_last else 1)


def _global_pool(g: _Graph, layer, sources: list[str]) -> str:
    name = layer.name
    if g.channels_last:  # hls4ml reads a 4-D GlobalAveragePool's shape as NCHW
        size = list(layer.input_shape[1:3])
        pooled = g.node("AveragePool", sources[:1], f"{name}/pool", kernel_shape=size,
                        strides=size, pads=[0, 0, 0, 0], domain=g.spatial_domain)  # fmt: skip
    else:
        pooled = g.node("GlobalAveragePool", sources[:1], f"{name}/pool")
    return g.node("Flatten", [pooled], name, axis=1)


def _flatten(g: _Graph, layer, sources: list[str]) -> str:
    """Keras flattens NHWC in (H, W, C) order: an NCHW tensor is transposed back first."""
    x = sources[0]
    if not g.channels_last and len(layer.input_shape) == 4:
        x = g.node("Transpose", [x], f"{layer.name}/nhwc", perm=[0, 2, 3, 1])
    return g.node("Flatten", [x], layer.name, axis=1)


#: Keras activation name -> ONNX op (None: the identity)
_ACTIVATIONS = {"linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "softmax": "Softmax"}


def _activation(g: _Graph, layer, sources: list[str]) -> str:
    name = tf.keras.activations.serialize(layer.activation)
    if name not in _ACTIVATIONS:
        raise FoldError(
            f"Activation '{layer.name}': {name!r} is not exported (only {', '.join(_ACTIVATIONS)})"
        )
    if _ACTIVATIONS[name] is None:
        return sources[0]
    if name == "softmax" and len(layer.input_shape) != 2:
        raise FoldError(f"Activation '{layer.name}': softmax is exported on logits (2-D) only")
    return g.node(_ACTIVATIONS[name], sources[:1], layer.name)


def _batch_norm(g: _Graph, layer, sources: list[str]) -> str:
    """A BatchNorm the fold did not join to a conv: a per-channel `Mul` and `Add`."""
    scale, shift = layers.batch_norm_affine(layer)
    name = layer.name
    y = g.node("Mul", [sources[0], g.constant(f"{name}.scale", g.per_channel(scale))],
               f"{name}/mul")  # fmt: skip
    return g.node("Add", [y, g.constant(f"{name}.shift", g.per_channel(shift))], name)


def _pixel_normalization(g: _Graph, layer, sources: list[str]) -> str:
    """Raw uint8 pixels to normalized images: `Cast`, then a per-channel `Mul` and `Add`."""
    name = layer.name
    x = g.node("Cast", sources[:1], f"{name}/cast", to=_onnx().TensorProto.FLOAT)
    x = g.node("Mul", [x, g.constant(f"{name}.scale", g.per_channel(layer.scale))],
               f"{name}/mul")  # fmt: skip
    return g.node("Add", [x, g.constant(f"{name}.offset", g.per_channel(layer.offset))], name)


#: What each folded layer becomes: layer class -> its nodes, the first class a layer is an
#: instance of (subclasses first). A layer of no class here gets a `FoldError`.
EXPORTS = (
    (layers.SymmetricConv2D, lambda g, layer, sources: _conv(g, layer, sources[0])),
    ((layers.LearnableBias, SpatialBias), _bias),
    (
        layers.Scale,
        lambda g, layer, sources: g.node(
            "Mul", [sources[0], g.constant(f"{layer.name}.scale", layer.scale)], layer.name
        ),
    ),
    (tf.keras.layers.PReLU, _prelu),
    (
        tf.keras.layers.LeakyReLU,
        lambda g, layer, sources: g.node(
            "LeakyRelu", sources[:1], layer.name, alpha=float(layer.alpha)
        ),
    ),
    (tf.keras.layers.ReLU, _relu),
    (tf.keras.layers.Add, _add),
    (tf.keras.layers.Concatenate, _concatenate),
    (
        tf.keras.layers.AveragePooling2D,
        lambda g, layer, sources: _pool(g, layer, sources[0], "AveragePool"),
    ),
    (
        tf.keras.layers.MaxPooling2D,
        lambda g, layer, sources: _pool(g, layer, sources[0], "MaxPool"),
    ),
    (tf.keras.layers.GlobalAveragePooling2D, _global_pool),
    (tf.keras.layers.Dense, lambda g, layer, sources: _dense(g, layer, sources[0])),
    (tf.keras.layers.Identity, lambda g, layer, sources: sources[0]),
    (tf.keras.layers.BatchNormalization, _batch_norm),
    (layers.PixelNormalization, _pixel_normalization),
    (tf.keras.layers.Flatten, _flatten),
    (tf.keras.layers.Activation, _activation),
)


def _layer(g: _Graph, layer, sources: list[str]) -> str:
    """The ONNX nodes of one folded layer; their output's name."""
    export = next((export for kind, export in EXPORTS if isinstance(layer, kind)), None)
    if export is None:
        raise FoldError(f"layer '{layer.name}' ({type(layer).__name__}) has no QONNX export")
    return export(g, layer, sources)


def export_folded(
    folded: tf.keras.Model, *, pad_binary_with_ones: bool = False, channels_last: bool = False
):
    """A model `fold` returned, as QONNX (`pipeline.convert(model, format="qonnx")`).

    `channels_last` writes the form hls4ml 1.3's ONNX front end reads (`hls4ml_flow`):
    NHWC tensors as Keras has them, Conv and the pools in qonnx's channels-last domain
    (weights stay OIHW), per-channel constants (C,), each PReLU as relu(x) - a * relu(-x)
    (hls4ml drops a `PRelu`'s slope), the global pool as an `AveragePool` over the map
    and the head as `MatMul` + `Add`. qonnx's executor cannot run it (it has no
    channels-last AveragePool); its shapes are the NCHW export's, transposed.
    """
    from larq_abbnn.converters import contract

    if not channels_last:
        proto = _infer_shapes(_build(folded, pad_binary_with_ones))
        contract.add_to_onnx(proto, "NCHW", contract.input_pixels(folded))
        return proto
    # hls4ml pads a binary input with -1 (its code 0) and a Pad with zeros only: each
    # padded binary conv pads its real input with 0 before the sign (+1 after it) and
    # takes what the +1s add away after the conv. The NCHW twin, built the same way,
    # gives the shapes.
    forms = dict(pad_binary_with_ones=True, pad_before_sign=True)
    twin = _infer_shapes(_build(folded, **forms))
    proto = _with_shapes_of(_build(folded, **forms, channels_last=True), twin)
    contract.add_to_onnx(proto, "NHWC", contract.input_pixels(folded))
    return proto


def _build(
    folded: tf.keras.Model,
    pad_binary_with_ones: bool,
    pad_before_sign: bool = False,
    channels_last: bool = False,
):
    onnx = _onnx()
    g = _Graph(onnx)
    g.channels_last = channels_last
    g.pad_binary_with_ones = pad_binary_with_ones
    g.pad_before_sign = pad_before_sign
    tensors: dict[str, str] = {}
    inputs = []
    for layer in folded.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            shape = layer.get_config()["batch_input_shape"]
            if len(shape) != 4 or any(d is None for d in shape[1:]):
                raise FoldError(
                    f"input '{layer.name}': QONNX export takes image models with a static "
                    f"size (NHWC), got {tuple(shape)}"
                )
            _, h, w, c = shape
            name = g.name("image")  # hls4ml reserves the Keras input's name, "input"
            dims = [1, h, w, c] if channels_last else [1, c, h, w]
            dtype = onnx.TensorProto.UINT8 if layer.dtype == "uint8" else onnx.TensorProto.FLOAT
            inputs.append(onnx.helper.make_tensor_value_info(name, dtype, dims))
            tensors[layer.name] = name
            continue
        sources = [tensors[source.name] for source in inbound_layers(layer)]
        tensors[layer.name] = _layer(g, layer, sources)
    outputs = []
    for layer in output_layers(folded):
        if len(layer.output_shape) != 2:
            raise FoldError(f"output '{layer.name}': QONNX export takes models with logits out")
        outputs.append(onnx.helper.make_tensor_value_info(
            tensors[layer.name], onnx.TensorProto.FLOAT, [1, layer.output_shape[-1]]
        ))  # fmt: skip
    graph = onnx.helper.make_graph(g.nodes, folded.name, inputs, outputs, g.initializers)
    return onnx.helper.make_model(
        graph,
        producer_name="larq-abbnn",
        opset_imports=[
            onnx.helper.make_opsetid("", OPSET),
            onnx.helper.make_opsetid(QONNX_DOMAIN, 1),
            onnx.helper.make_opsetid(CHANNELS_LAST_DOMAIN, 1),
        ],
    )


def _with_shapes_of(proto, nchw):
    """`proto` (channels-last) with the shapes of its NCHW twin `nchw`, whose tensors have
    the same names: 4-D shapes transposed to NHWC; the rest by onnx's inference."""
    onnx = _onnx()
    known = {v.name for v in (*proto.graph.input, *proto.graph.output)}
    known |= {t.name for t in proto.graph.initializer}
    for value in nchw.graph.value_info:
        name = hls4ml_name(value.name)
        if name in known:
            continue
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if len(dims) == 4:
            dims = [dims[0], dims[2], dims[3], dims[1]]
        proto.graph.value_info.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims)
        )
    return onnx.shape_inference.infer_shapes(proto)


def _with_batch(proto, batch_size: int):
    """A copy of a batch-1 export that takes `batch_size` images: the same nodes and
    constants, the batch axis of the input and outputs set, the shapes inferred again."""
    onnx = _onnx()
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    del copy.graph.value_info[:]
    for value in (*copy.graph.input, *copy.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch_size
    return _infer_shapes(copy)


def execute(proto, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
    """The logits of a QONNX export on NHWC `images` (as the Keras model takes them),
    computed by qonnx's executor (`execute_onnx`: onnxruntime node by node, qonnx's
    Python for its custom ops), `batch_size` images at a time."""
    _onnx()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from larq_abbnn.converters import contract

    uint8 = proto.graph.input[0].type.tensor_type.elem_type == _onnx().TensorProto.UINT8
    takes = np.uint8 if uint8 else np.float32
    contract.check_pixels(images, takes)
    images = np.asarray(images, takes)
    expected = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:]
    if list(images.shape[1:]) != [expected[1], expected[2], expected[0]]:
        raise ValueError(
            f"images of shape {images.shape[1:]} (NHWC), the file takes "
            f"{(expected[1], expected[2], expected[0])}"
        )
    runners: dict[int, tuple] = {}
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = np.transpose(images[start : start + batch_size], (0, 3, 1, 2))
        if len(batch) not in runners:
            wrapper = ModelWrapper(_with_batch(proto, len(batch)))
            runners[len(batch)] = wrapper, wrapper.graph.input[0].name, wrapper.graph.output[0].name
        wrapper, input_name, output_name = runners[len(batch)]
        outputs.append(execute_onnx(wrapper, {input_name: batch})[output_name])
    return np.concatenate(outputs)


def read_qonnx(path: str | os.PathLike):
    """A QONNX file as an `onnx.ModelProto`; a clear error for a missing, damaged or
    foreign file."""
    onnx = _onnx()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"QONNX file not found: {path}")
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
    except Exception as error:  # protobuf's DecodeError, onnx's ValidationError
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"{path}: not a valid ONNX file ({type(error).__name__}: {first})"
        ) from None
    if len(proto.graph.input) != 1 or not proto.graph.node:
        raise ValueError(f"{path}: expected an ONNX graph with one input and nodes")
    return proto
