"""The QONNX export: a folded Keras model as an ONNX graph in NCHW, one node (or a few) per
folded layer, by a table of layer kinds (`EXPORTS`).

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

This module writes that one form. Other forms of the same function (+1 padding for the
XNOR-popcount code, hls4ml's channels-last dialect) are rewrites of it, in `passes`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.converters.extras import onnx_module as _onnx
from larq_abbnn.converters.fold import FoldError
from larq_abbnn.converters.qonnx.runtime import infer_shapes
from larq_abbnn.graph import inbound_layers, output_layers
from larq_abbnn.layers import SpatialBias
from larq_abbnn.layers_base import same_padding, symmetric_padding

#: The domain of QONNX's custom ops (`BipolarQuant`), as qonnx's executor looks them up.
QONNX_DOMAIN = "qonnx.custom_op.general"
#: qonnx's channels-last Conv and pools, the only layout hls4ml's ONNX front end reads.
CHANNELS_LAST_DOMAIN = "qonnx.custom_op.channels_last"
#: ONNX opset of the standard nodes (hls4ml's ONNX front end reads 13).
OPSET = 13


class _Graph:
    """The ONNX graph being written: nodes, constants, unique names."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes: list = []
        self.initializers: list = []
        self.names: set[str] = set()

    def name(self, base: str) -> str:
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


def per_channel(value) -> np.ndarray:
    """A per-channel (C,) or per-position (H, W, C) constant, broadcastable to an NCHW
    tensor: (C, 1, 1) or (C, H, W) (no batch axis, which hls4ml's constant merging
    refuses)."""
    value = np.asarray(value, np.float64)
    if value.ndim == 1:
        return value.reshape(-1, 1, 1)
    return np.transpose(value, (2, 0, 1))


def _value(variable) -> np.ndarray:
    return np.asarray(tf.keras.backend.get_value(variable), np.float64)


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
        same_padding(size, k, s, d)
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
    if binary_input:
        x = g.node("BipolarQuant", [x, g.constant(f"{layer.name}.one", 1.0)],
                   f"{layer.name}/sign", domain=QONNX_DOMAIN)  # fmt: skip
    if value != 0.0:  # LCE's one padding (a +-1 input padded with +1), or any other value
        x = pad(g, f"{layer.name}", x, pads, value)
        pads = [0, 0, 0, 0]
    bias = per_channel(_value(layer.bias)) if layer.use_bias else None
    if binary_weights:  # ste_sign's +-1 (0 -> +1), the scale after the conv
        signs = np.where(kernel >= 0, 1.0, -1.0)
        w = g.constant(f"{layer.name}.kernel", signs)
        w = g.node("BipolarQuant", [w, g.constant(f"{layer.name}.one_w", 1.0)],
                   f"{layer.name}/binary_kernel", domain=QONNX_DOMAIN)  # fmt: skip
        inputs = [x, w]
    else:  # real weights carry their gain; the bias is the conv's own
        inputs = [x, g.constant(f"{layer.name}.kernel", kernel * gain.reshape(-1, 1, 1, 1))]
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
    )
    if not binary_weights:
        return y
    name = layer.name if bias is None else f"{layer.name}/scale"
    y = g.node("Mul", [y, g.constant(f"{layer.name}.scale", per_channel(gain))], name)
    if bias is not None:
        y = g.node("Add", [y, g.constant(f"{layer.name}.bias", bias)], layer.name)
    return y


def pad(g: _Graph, base: str, x: str, pads: list[int], value: float) -> str:
    """`Pad` of `value` around an NCHW map; `pads` is (top, left, bottom, right)."""
    top, left, bottom, right = pads
    return g.node(
        "Pad",
        [
            x,
            g.constant(f"{base}.pads", [0, 0, top, left, 0, 0, bottom, right], np.int64),
            g.constant(f"{base}.pad_value", value),
        ],
        f"{base}/pad",
        mode="constant",
    )


def _pool(g: _Graph, layer, x: str, op: str) -> str:
    pool, strides = list(layer.pool_size), list(layer.strides)
    if isinstance(layer, layers.SymmetricMaxPooling2D):
        pads = [layer.symmetric_padding] * 4
    elif layer.padding == "same":
        (top, bottom), (left, right) = (
            same_padding(size, k, s) for size, k, s in zip(layer.input_shape[1:3], pool, strides)
        )
        pads = [top, left, bottom, right]
    else:
        pads = [0, 0, 0, 0]
    if op == "AveragePool" and any(pads):
        attributes = {"count_include_pad": 0}  # TF averages over the window inside the map
    else:
        attributes = {}
    return g.node(op, [x], layer.name, kernel_shape=pool, strides=strides, pads=pads, **attributes)


def _dense(g: _Graph, layer, x: str) -> str:
    inputs = [x, g.constant(f"{layer.name}.kernel", _value(layer.kernel))]  # (in, out)
    if layer.use_bias:
        inputs.append(g.constant(f"{layer.name}.bias", _value(layer.bias)))
    activation = tf.keras.activations.serialize(layer.activation)
    if activation not in ("linear", None):
        raise FoldError(f"Dense '{layer.name}': activation {activation!r} is not exported")
    return g.node("Gemm", inputs, layer.name)


def _bias(g: _Graph, layer, sources: list[str]) -> str:
    """LearnableBias (its bias over its divisor) or the fold's SpatialBias: an `Add`."""
    bias = _value(layer.bias) / getattr(layer, "divisor", 1.0)
    return g.node("Add", [sources[0], g.constant(f"{layer.name}.bias", per_channel(bias))],
                  layer.name)  # fmt: skip


def _prelu(g: _Graph, layer, sources: list[str]) -> str:
    slopes = _value(layer.alpha).reshape(-1)
    return g.node("PRelu", [sources[0], g.constant(f"{layer.name}.slope", per_channel(slopes))],
                  layer.name)  # fmt: skip


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
    return g.node("Concat", sources, layer.name, axis=1)


def _global_pool(g: _Graph, layer, sources: list[str]) -> str:
    pooled = g.node("GlobalAveragePool", sources[:1], f"{layer.name}/pool")
    return g.node("Flatten", [pooled], layer.name, axis=1)


def _flatten(g: _Graph, layer, sources: list[str]) -> str:
    """Keras flattens NHWC in (H, W, C) order: an NCHW tensor is transposed back first."""
    x = sources[0]
    if len(layer.input_shape) == 4:
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
    y = g.node("Mul", [sources[0], g.constant(f"{name}.scale", per_channel(scale))],
               f"{name}/mul")  # fmt: skip
    return g.node("Add", [y, g.constant(f"{name}.shift", per_channel(shift))], name)


def _pixel_normalization(g: _Graph, layer, sources: list[str]) -> str:
    """Raw uint8 pixels to normalized images: `Cast`, then a per-channel `Mul` and `Add`."""
    name = layer.name
    x = g.node("Cast", sources[:1], f"{name}/cast", to=_onnx().TensorProto.FLOAT)
    x = g.node("Mul", [x, g.constant(f"{name}.scale", per_channel(layer.scale))],
               f"{name}/mul")  # fmt: skip
    return g.node("Add", [x, g.constant(f"{name}.offset", per_channel(layer.offset))], name)


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


def export_nchw(folded: tf.keras.Model):
    """A model `fold` returned, as a QONNX `onnx.ModelProto` in NCHW, every tensor's shape
    inferred (qonnx's `InferShapes`)."""
    onnx = _onnx()
    g = _Graph(onnx)
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
            dtype = onnx.TensorProto.UINT8 if layer.dtype == "uint8" else onnx.TensorProto.FLOAT
            inputs.append(onnx.helper.make_tensor_value_info(name, dtype, [1, c, h, w]))
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
    return infer_shapes(
        onnx.helper.make_model(
            graph,
            producer_name="larq-abbnn",
            opset_imports=[
                onnx.helper.make_opsetid("", OPSET),
                onnx.helper.make_opsetid(QONNX_DOMAIN, 1),
                onnx.helper.make_opsetid(CHANNELS_LAST_DOMAIN, 1),
            ],
        )
    )
