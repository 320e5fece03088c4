"""Counting the multiplications of one inference: the paper's "MO" column.

The paper counts the full-precision multiplications of one 224x224 image outside the
first conv, the binary convs' accumulation and the final Linear. Besides that total
(`full_precision`), the report counts separately:

- `shifts`: multiplications by powers of two (alpha = 2**-2, 2x2 average pools, Q-PReLU
  slopes) in an A&B network, where hardware shifts instead of multiplying. The paper
  counts the same products as multiplications in its BN-Free baseline, so for
  `family="bnfree"` they are full precision.
- `binary_conv_scaling`: the per-channel output scale of each binary conv (mean |w| times
  gain, plus any folded alpha), one per output element. The paper counts it inside the
  convolution; it is listed here rather than hidden.

Lines the paper's rule leaves out are listed with kind `excluded` (first conv, binary
accumulation, last Linear and global pool) or `paper_excluded` (full-precision layers of
Bi-ResNet that the paper's 0 does not count: the PReLU right after the first conv, the
PReLU right before the global pool, and the full-precision 1x1 conv on a block's
shortcut). These exemptions are found by the graph's structure, not by names or
positions: a real conv anywhere else, a PReLU inside a block or a scale that is not a
power of two counts as full precision and is reported under its own layer name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
from larq_compute_engine.mlir.python import tflite_schema

from larq_abbnn import layers
from larq_abbnn.analysis.tflite_file import Graph, reads_flatbuffer
from larq_abbnn.conversion.fold import consumers as fold_consumers
from larq_abbnn.conversion.fold import inbound_layers
from larq_abbnn.zoo import BLOCK_PREFIX

KINDS = (
    "full_precision",
    "shift",
    "binary_conv_scaling",
    "fused",
    "paper_excluded",
    "binary_mac",
    "excluded",
    "removed",
)


@dataclass(frozen=True)
class Source:
    """Multiplications of one kind from layers (or ops) of one role."""

    label: str
    kind: str
    count: int
    instances: int
    note: str = ""


@dataclass
class MultiplicationReport:
    family: str
    sources: list[Source] = field(default_factory=list)

    def _total(self, kind: str) -> int:
        return sum(s.count for s in self.sources if s.kind == kind)

    @property
    def full_precision(self) -> int:
        """The paper's MO: full-precision multiplications its rule counts."""
        return self._total("full_precision")

    @property
    def shifts(self) -> int:
        return self._total("shift")

    @property
    def binary_conv_scaling(self) -> int:
        return self._total("binary_conv_scaling")

    @property
    def fused(self) -> int:
        """BatchNorm scales the converter merges into the conv before them."""
        return self._total("fused")

    @property
    def paper_excluded(self) -> int:
        return self._total("paper_excluded")

    @property
    def binary_macs(self) -> int:
        """Binary multiply-accumulates (XNOR-popcount) of the binary-input binary convs."""
        return self._total("binary_mac")

    def table(self) -> str:
        rows = sorted(self.sources, key=lambda s: (KINDS.index(s.kind), s.label))
        width = max([len(s.label) for s in rows] + [6])
        lines = [f"{'source':<{width}}  {'kind':<19}  {'count':>12}  {'n':>4}  note"]
        lines += [
            f"{s.label:<{width}}  {s.kind:<19}  {s.count:>12,}  {s.instances:>4}  {s.note}"
            for s in rows
        ]
        lines += [
            "",
            f"full_precision (the paper's MO): {self.full_precision:,}",
            f"shifts (powers of two):          {self.shifts:,}",
            f"binary_conv_scaling:             {self.binary_conv_scaling:,}"
            "  (the paper counts this inside the binary convolution)",
            f"binary MACs:                     {self.binary_macs:,}",
        ]
        if self.fused:
            lines.append(
                f"fused (BatchNorm):               {self.fused:,}"
                "  (merged into the conv before it: its output multiplier or weights)"
            )
        if self.paper_excluded:
            lines.append(
                f"paper_excluded:                  {self.paper_excluded:,}"
                "  (full-precision layers the paper's 0 leaves out)"
            )
        return "\n".join(lines)

    __str__ = table


class _Collector:
    def __init__(self, family: str):
        self.family = family
        self.totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, label, kind, count, note=""):
        entry = self.totals[(label, kind, note)]
        entry[0] += int(count)
        entry[1] += 1

    def scaled(self, label, count, power_of_two: bool, note=""):
        if power_of_two and self.family == "ab":
            self.add(label, "shift", count, note)
        else:
            self.add(label, "full_precision", count, note)

    def report(self) -> MultiplicationReport:
        return MultiplicationReport(
            self.family,
            [
                Source(label, kind, c, n, note)
                for (label, kind, note), (c, n) in self.totals.items()
            ],
        )


def _power_of_two(values) -> bool:
    values = np.abs(np.asarray(values, np.float64)).ravel()
    if values.size == 0 or np.any(values == 0):
        return False
    mantissa, _ = np.frexp(values)
    return bool(np.all(mantissa == 0.5))


def _role(name: str) -> str:
    """`layer2.0.alpha` -> `*.alpha`: one line per role, not per block."""
    match = re.match(BLOCK_PREFIX, name)
    return "*." + name[match.end() :] if match else name


def _tflite_label(g: Graph, kind: str, output: int) -> str:
    """`ADD *.move1`: the op and the role of the layer it computes, from its tensor's name."""
    match = re.search(rf"({BLOCK_PREFIX}[\w.]+?)(/|;|$)", g.name(output))
    return f"{kind} {_role(match.group(1))}" if match else kind


def _elements(shape) -> int:
    return int(np.prod([d for d in shape[1:]]))


# -- Keras graphs --------------------------------------------------------------------------


def _keras_ancestors(layer) -> set:
    """Names of every layer `layer` depends on (itself included)."""
    seen, stack = set(), [layer]
    while stack:
        current = stack.pop()
        if current.name in seen or isinstance(current, tf.keras.layers.InputLayer):
            continue
        seen.add(current.name)
        stack.extend(inbound_layers(current))
    return seen


def _is_keras_shortcut_conv(layer, consumers: dict, binary_convs: dict) -> bool:
    """A real 1x1 conv on a block's shortcut (Bi-ResNet's downsample): it feeds only a
    residual `Add` whose other branch holds a binary conv computed from the tensor the
    shortcut starts from (through an average pool)."""
    if tuple(layer.kernel.shape[:2]) != (1, 1):
        return False
    adds = consumers.get(layer.name, [])
    if len(adds) != 1 or not isinstance(adds[0], tf.keras.layers.Add):
        return False
    source = inbound_layers(layer)[0]
    while isinstance(source, tf.keras.layers.AveragePooling2D):
        source = inbound_layers(source)[0]
    for branch in inbound_layers(adds[0]):
        if branch is layer:
            continue
        for name in binary_convs.keys() & _keras_ancestors(branch):
            if source.name in _keras_ancestors(inbound_layers(binary_convs[name])[0]):
                return True
    return False


def _keras_family(model) -> str:
    a_and_b = (layers.MaskLayer, layers.QuantRPReLU)
    return "ab" if any(isinstance(layer, a_and_b) for layer in model.layers) else "bnfree"


def _count_keras(model, family: str) -> MultiplicationReport:
    out = _Collector(family)
    consumers = fold_consumers(model)
    binary_convs = {layer.name: layer for layer in model.layers if layers.is_binary_conv(layer)}
    first_conv = None
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            continue
        n = _elements(layer.output_shape)
        label = f"{type(layer).__name__} {_role(layer.name)}"
        sources = inbound_layers(layer)
        if isinstance(layer, layers.SymmetricConv2D):
            fan_in = int(np.prod(layer.kernel.shape[:-1]))
            binary_kernel = getattr(layer.kernel_quantizer, "precision", 32) == 1
            if first_conv is None and isinstance(sources[0], tf.keras.layers.InputLayer):
                first_conv = layer
                out.add(label, "excluded", n * fan_in, "first conv")
            elif binary_kernel:
                if getattr(layer.input_quantizer, "precision", None) == 1:
                    out.add(label, "binary_mac", n * fan_in, "XNOR-popcount accumulation")
                else:
                    out.add(label, "excluded", n * fan_in, "binary weights on a real input")
                out.add(label, "binary_conv_scaling", n)
            elif getattr(layer.input_quantizer, "precision", None) == 1:
                out.add(label, "excluded", n * fan_in, "binary activations, real weights (step 1)")
                if isinstance(layer, layers.ScaledStdConv2D):
                    out.add(label, "full_precision", n, "gain of a step-1 conv")
            elif _is_keras_shortcut_conv(layer, consumers, binary_convs):
                out.add(label, "paper_excluded", n * fan_in + n, "full-precision shortcut conv")
            else:
                out.add(
                    f"{type(layer).__name__} {layer.name}",
                    "full_precision",
                    n * fan_in + n,
                    "full-precision conv inside the network",
                )
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            after_conv = isinstance(sources[0], layers.SymmetricConv2D)
            if after_conv and len(consumers[sources[0].name]) == 1:
                out.add(label, "fused", n, "BatchNorm, merged into the conv before it")
            else:
                out.add(label, "full_precision", n, "BatchNorm")
        elif isinstance(layer, layers.MaskLayer):
            out.add(label, "removed", 0, "removed at inference: sign(beta*z) = sign(z)")
        elif isinstance(layer, layers.Scale):
            out.scaled(label, n, layer.is_power_of_two)
        elif isinstance(layer, tf.keras.layers.AveragePooling2D):
            out.scaled(label, n, _power_of_two([np.prod(layer.pool_size)]), "divide by pool size")
        elif isinstance(layer, layers.QuantRPReLU):
            out.scaled(label, n, True)
        elif isinstance(layer, tf.keras.layers.LeakyReLU):  # the slope ablation
            out.scaled(label, n, _power_of_two([float(layer.alpha)]), "fixed slope")
        elif isinstance(layer, tf.keras.layers.PReLU):
            after_first_conv = first_conv is not None and sources[0] is first_conv
            before_pool = all(
                isinstance(c, tf.keras.layers.GlobalAveragePooling2D) for c in consumers[layer.name]
            )
            if after_first_conv or before_pool:
                out.add(label, "paper_excluded", n, "PReLU outside the blocks (first/last layer)")
            else:
                out.scaled(label, n, _power_of_two(layer.get_weights()[0]))
        elif isinstance(layer, tf.keras.layers.GlobalAveragePooling2D):
            out.add(label, "excluded", n, "head: global average pool")
        elif isinstance(layer, tf.keras.layers.Dense):
            out.add(label, "excluded", n * int(layer.kernel.shape[0]), "head: last Linear")
    return out.report()


# -- TFLite files ---------------------------------------------------------------------------

_NO_MULTIPLICATION = {
    "ADD",
    "SUB",
    "CONCATENATION",
    "PAD",
    "PADV2",
    "REVERSE_V2",
    "RESHAPE",
    "MAX_POOL_2D",
    "GREATER",
    "GREATER_EQUAL",
    "LESS",
    "SELECT",
    "SELECT_V2",
    "MAXIMUM",
    "MINIMUM",
    "RELU",
    "SQUEEZE",
    "TRANSPOSE",
    "STRIDED_SLICE",
    "SLICE",
    "GATHER",
    "LceQuantize",
    "LceDequantize",
    "QUANTIZE",
    "DEQUANTIZE",
    "SHAPE",
    "PACK",
    "UNPACK",
    "SPLIT",
    "NEG",
}


def _tflite_family(g: Graph, first_conv_output: int | None) -> str:
    """ "bnfree" (every product counts) or "ab", read from the constants: BN-Free graphs
    multiply block inputs by betas that are not powers of two; BN graphs have no MUL left,
    but most of their in-block PReLU slopes are not powers of two, where an A&B graph's
    Q-PReLU slopes all are (one stray real PReLU inside an A&B block stays "ab", and is
    counted as full precision)."""
    real_slopes = shift_slopes = 0
    for k, (name, _, ins, _) in enumerate(g.ops):
        constants = g.constants(ins) if name in ("MUL", "PRELU") else []
        if not constants:
            continue
        if name == "MUL" and not _power_of_two(constants[0]):
            return "bnfree"
        # Bi-ResNet's outer PReLUs are real: only in-block slopes tell the family
        if name == "PRELU" and not g.outside_blocks(k, first_conv_output):
            if _power_of_two(constants[0]):
                shift_slopes += 1
            else:
                real_slopes += 1
    return "bnfree" if real_slopes > shift_slopes else "ab"


@reads_flatbuffer
def _count_tflite(flatbuffer: bytes, family: str | None) -> MultiplicationReport:
    g = Graph(flatbuffer)
    first_conv_output = g.first_conv_output()
    if family is None:
        family = _tflite_family(g, first_conv_output)
    out = _Collector(family)
    for k, (name, op, ins, outs) in enumerate(g.ops):
        n = _elements(g.shape(outs[0])) if outs else 0
        label = _tflite_label(g, name, outs[0]) if outs else name
        if name in _NO_MULTIPLICATION:
            continue
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            kernel_shape = g.shape(ins[1])
            fan_in = (
                int(np.prod(kernel_shape[1:]))
                if name == "CONV_2D"
                else int(np.prod(kernel_shape[1:3]))
            )
            weights = g.constant(ins[1])
            if outs[0] == first_conv_output:
                out.add(label, "excluded", n * fan_in, "first conv")
            elif weights is not None and _binary_up_to_scale(weights, kernel_shape[0]):
                out.add(label, "excluded", n * fan_in, "binary-weight accumulation")
                out.add(label, "binary_conv_scaling", n)
            elif name == "CONV_2D" and g.is_shortcut_conv(k):
                out.add(label, "paper_excluded", n * fan_in, "full-precision shortcut conv")
            else:
                out.add(  # the converter truncates fused names: say where it reads and writes
                    f"{name} {g.layer_name(ins[0])} -> {g.layer_name(outs[0])}",
                    "full_precision",
                    n * fan_in,
                    "full-precision conv inside the network",
                )
        elif name == "LceBconv2d":
            out.add(label, "binary_conv_scaling", n, "LceBconv2d output multiplier")
            filters = g.shape(ins[1])  # OHWI; bitpacked int32 words of 32 input channels
            bits = 32 if g.tensor(ins[1]).Type() == tflite_schema.TensorType.INT32 else 1
            out.add(label, "binary_mac", n * int(np.prod(filters[1:])) * bits, "XNOR-popcount")
        elif name == "MUL":
            constants = g.constants(ins)
            out.scaled(label, n, bool(constants) and _power_of_two(constants[0]))
        elif name == "PRELU":
            slopes = g.constant(ins[1])
            if g.outside_blocks(k, first_conv_output):
                out.add(label, "paper_excluded", n, "PReLU outside the blocks (first/last layer)")
            else:
                out.scaled(label, n, slopes is not None and _power_of_two(slopes))
        elif name == "LEAKY_RELU":
            options = tflite_schema.LeakyReluOptions()
            table = op.BuiltinOptions()
            slope = 0.0
            if table is not None:
                options.Init(table.Bytes, table.Pos)
                slope = options.Alpha()
            out.scaled(label, n, _power_of_two([slope]), "fixed slope")
        elif name == "AVERAGE_POOL_2D":
            options = tflite_schema.Pool2DOptions()
            table = op.BuiltinOptions()
            size = 0
            if table is not None:
                options.Init(table.Bytes, table.Pos)
                size = options.FilterWidth() * options.FilterHeight()
            out.scaled(label, n, _power_of_two([size]), "divide by pool size")
        elif name == "MEAN":
            out.add(label, "excluded", n, "head: global average pool")
        elif name == "FULLY_CONNECTED":
            out.add(label, "excluded", n * g.shape(ins[1])[-1], "head: last Linear")
        else:
            out.add(label, "full_precision", n, f"{name}: assumed one multiplication per output")
    return out.report()


def _binary_up_to_scale(weights, out_channels: int) -> bool:
    """OHWI filter whose every output channel is +-c_o (a binary kernel times a scale)."""
    w = np.abs(weights.reshape(out_channels, -1))
    return bool(np.all(w == w[:, :1]) and np.all(w[:, 0] > 0))


def count_multiplications(
    model_or_tflite: tf.keras.Model | bytes, *, family: str | None = None
) -> MultiplicationReport:
    """Multiplications of one inference (batch 1) of a Keras model or a TFLite file.

    `family` is `"ab"` (powers of two are shifts) or `"bnfree"` (every product is a
    multiplication, as the paper counts its BN-Free baseline); by default it is read
    from the graph (mask layers or Q-PReLUs; in a TFLite file, multiplications by
    constants that are not powers of two).
    """
    if family not in (None, "ab", "bnfree"):
        raise ValueError(f"family must be 'ab', 'bnfree' or None, got {family!r}")
    if isinstance(model_or_tflite, (bytes, bytearray)):
        return _count_tflite(bytes(model_or_tflite), family)
    if isinstance(model_or_tflite, tf.keras.Model):
        return _count_keras(model_or_tflite, family or _keras_family(model_or_tflite))
    raise TypeError(f"expected a Keras model or TFLite bytes, got {type(model_or_tflite).__name__}")
