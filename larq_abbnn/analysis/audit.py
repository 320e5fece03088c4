"""Counting the multiplications of one inference: the paper's "MO" column.

The paper counts the full-precision multiplications of one 224x224 image outside the
first conv, the binary convs' accumulation and the final Linear. Besides that total
(`full_precision`), the report counts separately:

- `shifts`: multiplications by powers of two (alpha = 2**-2, 2x2 average pools, Q-PReLU
  slopes) in an A&B network, where hardware shifts instead of multiplying. The paper
  counts the same products as multiplications in its BN-Free and BN baselines, so for
  those families they are full precision (`larq_abbnn.families`: each family's rule).
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

The rule is written once per dialect, as a table from layer class (Keras) or op name
(TFLite, QONNX) to what it counts; the three tables sit side by side at the end of the
module. The structural exemptions (stem, shortcut, head) are one function each for both
file dialects, reading the op names of a `_Dialect`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import tensorflow as tf
from larq_compute_engine.mlir.python import tflite_schema

from larq_abbnn import families, layers
from larq_abbnn.analysis import keras_graph, onnx_graph
from larq_abbnn.analysis.tflite_file import reads_flatbuffer
from larq_abbnn.analysis.tflite_graph import Graph, Op
from larq_abbnn.converters import formats
from larq_abbnn.converters.fold import joined_batch_norms
from larq_abbnn.families import Family, is_power_of_two
from larq_abbnn.graph import consumers, descendants
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
    #: the counting rule's family name (`larq_abbnn.families`): "ab", "bnfree" or "bn"
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
    def __init__(self, family: Family):
        self.family = family
        self.totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, label, kind, count, note=""):
        entry = self.totals[(label, kind, note)]
        entry[0] += int(count)
        entry[1] += 1

    def scaled(self, label, count, power_of_two: bool, note=""):
        """A product by a constant: a shift or a multiplication, by the family's rule."""
        self.add(label, self.family.product(power_of_two), count, note)

    def report(self) -> MultiplicationReport:
        return MultiplicationReport(
            self.family.name,
            [
                Source(label, kind, c, n, note)
                for (label, kind, note), (c, n) in self.totals.items()
            ],
        )


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


# -- Keras models: the structure the paper exempts ------------------------------------------


class _KerasCount:
    """One count over a Keras model: the collector and the graph facts the rules read
    (its layers as an `OpGraph`, `keras_graph`: the structural rules are the files')."""

    def __init__(self, model, family: Family):
        self.out = _Collector(family)
        self.consumers = consumers(model)
        self.g = keras_graph.Graph(model)
        self.first_conv = None
        self.fused = joined_batch_norms(model)  # fold's own decision, not a second one


#: The note of a binary conv's output scale that is a power of two (`power_of_two_scales`).
POWER_OF_TWO_SCALE = "binary conv output scale, a power of two"

#: The note of an input normalization's multiplications: preprocessing, which the paper
#: does not count (`fold(model, input_pixels="uint8")` puts it in the graph).
INPUT_NORMALIZATION = "input normalization (preprocessing)"


def _keras_conv(c: _KerasCount, layer, n: int, label: str) -> None:
    """Larq's and this package's convs, and Keras's own (Conv2D, DepthwiseConv2D: networks
    that are not the paper's, whose real convs the trial's audit left out)."""
    kernel = tuple(layer.kernel.shape)
    depthwise = isinstance(layer, tf.keras.layers.DepthwiseConv2D)
    fan_in = int(np.prod(kernel[:2] if depthwise else kernel[:-1]))
    binary_kernel = layers.has_binary_weights(layer)
    binary_input = layers.has_binary_input(layer)
    if c.first_conv is None and c.g.from_input(c.g.op(layer).inputs[0]):
        c.first_conv = layer
        c.out.add(label, "excluded", n * fan_in, "first conv")
    elif binary_kernel:
        if binary_input:
            c.out.add(label, "binary_mac", n * fan_in, "XNOR-popcount accumulation")
        else:
            c.out.add(label, "excluded", n * fan_in, "binary weights on a real input")
        if getattr(layer, "power_of_two_scale", False):
            c.out.add(label, "shift", n, POWER_OF_TWO_SCALE)
        else:
            c.out.add(label, "binary_conv_scaling", n)
    elif binary_input:
        c.out.add(label, "excluded", n * fan_in, "binary activations, real weights (step 1)")
        if isinstance(layer, layers.ScaledStdConv2D):
            c.out.add(label, "full_precision", n, "gain of a step-1 conv")
    elif _is_shortcut_conv(c.g, c.g.op(layer), KERAS):
        c.out.add(label, "paper_excluded", n * fan_in + n, "full-precision shortcut conv")
    else:
        _full_precision_layer(c, layer, n, fan_in, "conv")


def _full_precision_layer(c: _KerasCount, layer, n: int, fan_in: int, kind: str) -> None:
    """A real conv or Dense layer inside the network: its products and bias, by its name."""
    c.out.add(
        f"{type(layer).__name__} {layer.name}",
        "full_precision",
        n * fan_in + (n if layer.use_bias else 0),
        f"full-precision {kind} inside the network",
    )


def _keras_dense(c: _KerasCount, layer, n: int, label: str) -> None:
    """The last Linear (no conv or Dense after it: a softmax may follow) is the paper's
    exempt head; any other Dense layer multiplies in full precision (the trial: a Dense
    model audited as MO 0)."""
    fan_in = int(layer.kernel.shape[0])
    weighted = (tf.keras.layers.Dense, tf.keras.layers.Conv2D)
    if not any(isinstance(later, weighted) for later in descendants(c.consumers, layer)):
        c.out.add(label, "excluded", n * fan_in, "head: last Linear")
    else:
        _full_precision_layer(c, layer, n, fan_in, "Dense layer")


def _keras_batch_norm(c: _KerasCount, layer, n: int, label: str) -> None:
    if layer.name in c.fused:
        c.out.add(label, "fused", n, "BatchNorm, merged into the conv before it")
    else:
        c.out.add(label, "full_precision", n, "BatchNorm")


def _keras_activation(c: _KerasCount, layer, n: int, label: str) -> None:
    """relu and linear multiply nothing; another activation (a softmax, a sigmoid) counts
    one per output, as the file dialects count an op they do not know."""
    name = tf.keras.activations.serialize(layer.activation)
    if name not in ("relu", "linear"):
        c.out.add(label, "full_precision", n, f"{name}: assumed one multiplication per output")


def _keras_prelu(c: _KerasCount, layer, n: int, label: str) -> None:
    first_conv_output = c.first_conv.name if c.first_conv is not None else None
    if _outside_blocks(c.g, c.g.op(layer), first_conv_output, KERAS):
        c.out.add(label, "paper_excluded", n, "PReLU outside the blocks (first/last layer)")
    else:
        c.out.scaled(label, n, is_power_of_two(layer.get_weights()[0]))


# -- the structure the paper exempts, in every dialect (Keras, TFLite, QONNX) ----------------------


class _Dialect(NamedTuple):
    """The op names the structural rules below read, in one file format."""

    convs: frozenset
    add: str
    mul: str
    prelu: str
    global_pool: str
    average_pool: str
    #: (graph, op) -> whether the op is a binary conv
    is_binary_conv: Callable
    #: (graph, conv op) -> its kernel's (height, width)
    kernel_size: Callable


TFLITE = _Dialect(
    convs=frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"}),
    add="ADD",
    mul="MUL",
    prelu="PRELU",
    global_pool="MEAN",
    average_pool="AVERAGE_POOL_2D",
    is_binary_conv=lambda g, op: op.name == "LceBconv2d",
    kernel_size=lambda g, op: g.shape(op.inputs[1])[1:3],  # OHWI
)
QONNX = _Dialect(
    convs=frozenset({"Conv"}),
    add="Add",
    mul="Mul",
    prelu="PRelu",
    global_pool="GlobalAveragePool",
    average_pool="AveragePool",
    is_binary_conv=lambda g, op: op.name == "Conv" and g.produced_by(op.inputs[1], "BipolarQuant"),
    kernel_size=lambda g, op: g.shape(op.inputs[1])[2:4],  # OIHW
)
#: A Keras model's layers as ops (`keras_graph`): the same structural rules read it.
KERAS = _Dialect(
    convs=frozenset({"Conv"}),
    add="Add",
    mul="Scale",
    prelu="PRelu",
    global_pool="GlobalAveragePool",
    average_pool="AveragePool",
    is_binary_conv=lambda g, op: layers.is_binary_conv(op.layer),
    kernel_size=lambda g, op: tuple(op.layer.kernel.shape[:2]),  # HWIO
)


def _first_conv_output(g, dialect: _Dialect):
    """The output of the first conv, the one reading the graph input (the stem)."""
    return next(
        (op.outputs[0] for op in g.ops if op.name in dialect.convs and g.from_input(op.inputs[0])),
        None,
    )


def _outside_blocks(g, op, first_conv_output, dialect: _Dialect) -> bool:
    """A PReLU right after the first conv or right before the global pool."""
    if first_conv_output is not None and g.source(op.inputs[0]) == first_conv_output:
        return True
    readers, stack = [], list(g.consumers[op.outputs[0]])
    while stack:  # a reshape or transpose may sit between the PReLU and the pool
        reader = g.ops[stack.pop()]
        if reader.name in g.MOVES_DATA:
            stack.extend(g.consumers[reader.outputs[0]])
        else:
            readers.append(reader.name)
    return bool(readers) and all(name == dialect.global_pool for name in readers)


def _is_shortcut_conv(g, op, dialect: _Dialect) -> bool:
    """A real 1x1 conv on a block's shortcut (Bi-ResNet's downsample): it feeds only a
    residual add whose other operand is computed by a binary conv from the tensor the
    shortcut starts from (through an average pool)."""
    if list(dialect.kernel_size(g, op)) != [1, 1]:
        return False
    adds = g.consumers[op.outputs[0]]
    if len(adds) != 1 or g.ops[adds[0]].name != dialect.add:
        return False
    start = g.source(op.inputs[0], g.MOVES_DATA | {dialect.average_pool})
    for other in g.ops[adds[0]].inputs:
        if other == op.outputs[0] or not g.is_tensor(other):
            continue
        for t in g.ancestors(other):
            j = g.producer.get(t)
            if j is not None and dialect.is_binary_conv(g, g.ops[j]):
                if start in g.ancestors(g.ops[j].inputs[0]):
                    return True
    return False


def _file_family(g, first_conv_output, dialect: _Dialect) -> Family:
    """`families.of_tflite` on what the graph's multiplications by constants multiply by
    (a binary conv's output scale aside) and its in-block slopes (Bi-ResNet's outer
    PReLUs are real: only in-block slopes tell the family)."""
    products, block_slopes = [], []
    for op in g.ops:
        mul = op.name == dialect.mul
        constants = g.constants(op.inputs) if mul or op.name == dialect.prelu else []
        if not constants or (mul and _scales_a_binary_conv(g, op, dialect)):
            continue
        if mul and g.from_input(op.inputs[0]):  # the input's normalization
            continue
        if mul:
            products.append(constants[0])
        elif not _outside_blocks(g, op, first_conv_output, dialect):
            block_slopes.append(constants[0])
    return families.of_tflite(products, block_slopes)


def _scales_a_binary_conv(g, op, dialect: _Dialect) -> bool:
    """A multiplication of a binary conv's output (QONNX's per-channel scale after the
    conv; LCE's is the conv's own output multiplier, never a MUL)."""
    k = g.producer.get(op.inputs[0])
    return k is not None and dialect.is_binary_conv(g, g.ops[k])


class _FileCount:
    """One count over a converted file's graph: the collector and the graph facts the
    rules read."""

    def __init__(self, g, family: Family | None, dialect: _Dialect):
        self.g = g
        self.dialect = dialect
        self.first_conv_output = _first_conv_output(g, dialect)
        self.out = _Collector(family or _file_family(g, self.first_conv_output, dialect))


def _tflite_conv(c: _FileCount, op: Op, n: int, label: str) -> None:
    g = c.g
    kernel_shape = g.shape(op.inputs[1])
    fan_in = int(np.prod(kernel_shape[1:] if op.name == "CONV_2D" else kernel_shape[1:3]))
    weights = g.constant(op.inputs[1])
    if op.outputs[0] == c.first_conv_output:
        c.out.add(label, "excluded", n * fan_in, "first conv")
    elif weights is not None and _binary_up_to_scale(weights, kernel_shape[0]):
        c.out.add(label, "excluded", n * fan_in, "binary-weight accumulation")
        scales = np.abs(weights.reshape(kernel_shape[0], -1)).max(axis=1)
        if is_power_of_two(scales):
            c.out.add(label, "shift", n, POWER_OF_TWO_SCALE)
        else:
            c.out.add(label, "binary_conv_scaling", n)
    elif op.name == "CONV_2D" and _is_shortcut_conv(g, op, c.dialect):
        c.out.add(label, "paper_excluded", n * fan_in, "full-precision shortcut conv")
    else:
        c.out.add(  # the converter truncates fused names: say where it reads and writes
            f"{op.name} {g.layer_name(op.inputs[0])} -> {g.layer_name(op.outputs[0])}",
            "full_precision",
            n * fan_in,
            "full-precision conv inside the network",
        )


def _tflite_bconv(c: _FileCount, op: Op, n: int, label: str) -> None:
    multiplier = c.g.constant(op.inputs[2]) if len(op.inputs) > 2 else None
    if multiplier is not None and is_power_of_two(multiplier):
        c.out.add(label, "shift", n, POWER_OF_TWO_SCALE)
    else:
        c.out.add(label, "binary_conv_scaling", n, "LceBconv2d output multiplier")
    filters = c.g.shape(op.inputs[1])  # OHWI; bitpacked int32 words of 32 input channels
    bits = 32 if c.g.tensor(op.inputs[1]).Type() == tflite_schema.TensorType.INT32 else 1
    channels = filters[3] * bits
    # The model's input channels, as Keras and QONNX count them (the trial: 8- and
    # 16-channel inputs, packed into 32-bit words, gave 44.8 M binary MACs against 34.2 M):
    # the float tensor LceQuantize packed.
    k = c.g.producer.get(op.inputs[0])
    if k is not None and c.g.ops[k].name == "LceQuantize":
        channels = c.g.shape(c.g.ops[k].inputs[0])[-1]
    macs = n * filters[1] * filters[2] * channels
    c.out.add(label, "binary_mac", macs, "XNOR-popcount")


def _file_mul(c: _FileCount, op, n: int, label: str) -> None:
    if c.g.from_input(op.inputs[0]) and c.g.preprocesses(op):
        c.out.add(label, "excluded", n, INPUT_NORMALIZATION)
        return
    constants = c.g.constants(op.inputs)
    if _scales_a_binary_conv(c.g, op, c.dialect):
        if constants and is_power_of_two(constants[0]):
            c.out.add(label, "shift", n, POWER_OF_TWO_SCALE)
        else:
            c.out.add(label, "binary_conv_scaling", n, "binary conv output scale")
        return
    c.out.scaled(label, n, bool(constants) and is_power_of_two(constants[0]))


def _file_prelu(c: _FileCount, op: Op, n: int, label: str) -> None:
    slopes = c.g.constant(op.inputs[1])
    if _outside_blocks(c.g, op, c.first_conv_output, c.dialect):
        c.out.add(label, "paper_excluded", n, "PReLU outside the blocks (first/last layer)")
    else:
        c.out.scaled(label, n, slopes is not None and is_power_of_two(slopes))


def _tflite_leaky_relu(c: _FileCount, op: Op, n: int, label: str) -> None:
    options = op.options(tflite_schema.LeakyReluOptions)
    slope = 0.0 if options is None else options.Alpha()
    c.out.scaled(label, n, is_power_of_two([slope]), "fixed slope")


def _tflite_average_pool(c: _FileCount, op: Op, n: int, label: str) -> None:
    options = op.options(tflite_schema.Pool2DOptions)
    size = 0 if options is None else options.FilterWidth() * options.FilterHeight()
    c.out.scaled(label, n, is_power_of_two([size]), "divide by pool size")


def _qonnx_conv(c: _FileCount, op, n: int, label: str) -> None:
    g = c.g
    fan_in = int(np.prod(g.shape(op.inputs[1])[1:]))  # OIHW
    if op.outputs[0] == c.first_conv_output:
        c.out.add(label, "excluded", n * fan_in, "first conv")
    elif c.dialect.is_binary_conv(g, op):
        if g.produced_by(g.source(op.inputs[0]), "BipolarQuant"):
            c.out.add(label, "binary_mac", n * fan_in, "XNOR-popcount")
        else:
            c.out.add(label, "excluded", n * fan_in, "binary weights on a real input")
    elif _is_shortcut_conv(g, op, c.dialect):
        c.out.add(label, "paper_excluded", n * fan_in, "full-precision shortcut conv")
    else:
        c.out.add(label, "full_precision", n * fan_in, "full-precision conv inside the network")


def _qonnx_average_pool(c: _FileCount, op, n: int, label: str) -> None:
    size = int(np.prod(op.attribute("kernel_shape", [0])))
    c.out.scaled(label, n, is_power_of_two([size]), "divide by pool size")


def _qonnx_label(op) -> str:
    """`Mul *.conv1`: the op and the role of the layer it computes, from the node's name
    (the export names a layer's nodes `layer` and `layer/part`)."""
    return f"{op.name} {_role(op.node.name.split('/')[0])}" if op.node.name else op.name


def _file_other(c: _FileCount, op, n: int, label: str) -> None:
    c.out.add(label, "full_precision", n, f"{op.name}: assumed one multiplication per output")


def _nothing(c, item, n: int, label: str) -> None:
    """Ops and layers without multiplications (data movement, additions, comparisons)."""


def _binary_up_to_scale(weights, out_channels: int) -> bool:
    """OHWI filter whose every output channel is +-c_o (a binary kernel times a scale)."""
    w = np.abs(weights.reshape(out_channels, -1))
    return bool(np.all(w == w[:, :1]) and np.all(w[:, 0] > 0))


# -- the rule, one table per dialect -------------------------------------------------------

Rule = Callable[..., None]

#: Keras layers that count no multiplication: additions, data movement, comparisons.
KERAS_COUNTS_NOTHING = (
    tf.keras.layers.InputLayer,
    tf.keras.layers.Add,
    tf.keras.layers.Concatenate,
    tf.keras.layers.MaxPooling2D,
    tf.keras.layers.Flatten,
    tf.keras.layers.Identity,
    tf.keras.layers.ReLU,
    layers.LearnableBias,
    layers.SpatialBias,
    *keras_graph.MOVES_DATA_LAYERS,
)

#: Keras: layer class -> rule, the first class a layer is an instance of (subclasses
#: first); layers of no class here (`KERAS_COUNTS_NOTHING`, ...) count nothing.
KERAS_RULES: tuple[tuple[type, Rule], ...] = (
    (layers.SymmetricConv2D, _keras_conv),
    (tf.keras.layers.BatchNormalization, _keras_batch_norm),
    (
        layers.MaskLayer,
        lambda c, layer, n, label: c.out.add(
            label, "removed", 0, "removed at inference: sign(beta*z) = sign(z)"
        ),
    ),
    (layers.Scale, lambda c, layer, n, label: c.out.scaled(label, n, layer.is_power_of_two)),
    (
        tf.keras.layers.AveragePooling2D,
        lambda c, layer, n, label: c.out.scaled(
            label, n, is_power_of_two([np.prod(layer.pool_size)]), "divide by pool size"
        ),
    ),
    (layers.QuantRPReLU, lambda c, layer, n, label: c.out.scaled(label, n, True)),
    (  # the slope ablation
        tf.keras.layers.LeakyReLU,
        lambda c, layer, n, label: c.out.scaled(
            label, n, is_power_of_two([float(layer.alpha)]), "fixed slope"
        ),
    ),
    (tf.keras.layers.PReLU, _keras_prelu),
    (
        tf.keras.layers.GlobalAveragePooling2D,
        lambda c, layer, n, label: c.out.add(label, "excluded", n, "head: global average pool"),
    ),
    (tf.keras.layers.Dense, _keras_dense),
    (tf.keras.layers.Activation, _keras_activation),
    (tf.keras.layers.Conv2D, _keras_conv),  # Keras's own (after this package's, a subclass)
    (
        layers.PixelNormalization,
        lambda c, layer, n, label: c.out.add(label, "excluded", n, INPUT_NORMALIZATION),
    ),
)

#: TFLite: op name -> rule; an op not listed counts one multiplication per output.
TFLITE_RULES: dict[str, Rule] = {
    "CONV_2D": _tflite_conv,
    "DEPTHWISE_CONV_2D": _tflite_conv,
    "LceBconv2d": _tflite_bconv,
    "MUL": _file_mul,
    "PRELU": _file_prelu,
    "LEAKY_RELU": _tflite_leaky_relu,
    "AVERAGE_POOL_2D": _tflite_average_pool,
    "MEAN": lambda c, op, n, label: c.out.add(label, "excluded", n, "head: global average pool"),
    "FULLY_CONNECTED": lambda c, op, n, label: c.out.add(
        label, "excluded", n * c.g.shape(op.inputs[1])[-1], "head: last Linear"
    ),
    **dict.fromkeys(
        (
            "ADD",
            "SUB",
            "CAST",
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
        ),
        _nothing,
    ),
}


#: QONNX (`converters.to_qonnx`): op type -> rule; an op not listed counts one
#: multiplication per output.
QONNX_RULES: dict[str, Rule] = {
    "Conv": _qonnx_conv,
    "Mul": _file_mul,
    "PRelu": _file_prelu,
    "LeakyRelu": lambda c, op, n, label: c.out.scaled(
        label, n, is_power_of_two([op.attribute("alpha", 0.01)]), "fixed slope"
    ),
    "AveragePool": _qonnx_average_pool,
    "GlobalAveragePool": lambda c, op, n, label: c.out.add(
        label, "excluded", n, "head: global average pool"
    ),
    "Gemm": lambda c, op, n, label: c.out.add(
        label, "excluded", n * c.g.shape(op.inputs[1])[0], "head: last Linear"
    ),
    **dict.fromkeys(
        (
            "Add",
            "Sub",
            "Cast",
            "Concat",
            "Pad",
            "MaxPool",
            "Relu",
            "Flatten",
            "Reshape",
            "Transpose",
            "Identity",
            "BipolarQuant",
            "Neg",
        ),
        _nothing,
    ),
}


def _count_keras(model, family: Family) -> MultiplicationReport:
    c = _KerasCount(model, family)
    for layer in model.layers:
        rule = next((rule for kind, rule in KERAS_RULES if isinstance(layer, kind)), None)
        if rule is not None:
            rule(
                c,
                layer,
                _elements(layer.output_shape),
                f"{type(layer).__name__} {_role(layer.name)}",
            )
    return c.out.report()


@reads_flatbuffer
def _count_tflite(flatbuffer: bytes, family: Family | None) -> MultiplicationReport:
    g = Graph(flatbuffer)
    c = _FileCount(g, family, TFLITE)
    for op in g.ops:
        n = _elements(g.shape(op.outputs[0])) if op.outputs else 0
        label = _tflite_label(g, op.name, op.outputs[0]) if op.outputs else op.name
        TFLITE_RULES.get(op.name, _file_other)(c, op, n, label)
    return c.out.report()


def _count_qonnx(proto, family: Family | None) -> MultiplicationReport:
    g = onnx_graph.Graph(proto)
    c = _FileCount(g, family, QONNX)
    for op in g.ops:
        n = _elements(g.shape(op.outputs[0])) if op.outputs else 0
        QONNX_RULES.get(op.name, _file_other)(c, op, n, _qonnx_label(op))
    return c.out.report()


def count_multiplications(
    model_or_file: tf.keras.Model | bytes, *, family: str | Family | None = None
) -> MultiplicationReport:
    """Multiplications of one inference (batch 1) of a Keras model, a TFLite file (its
    bytes) or a QONNX model (an `onnx.ModelProto`, `converters.to_qonnx`).

    `family` (`larq_abbnn.families`: `"ab"`, `"bnfree"`, `"bn"` or a `Family`) sets the
    rule: in `"ab"` powers of two are shifts, in the baselines every product is a
    multiplication, as the paper counts them. By default it is read from the graph
    (`families.of_keras`, `families.of_tflite`).
    """
    family = None if family is None else families.get(family)
    if formats.TFLITE.holds(model_or_file):
        return _count_tflite(bytes(model_or_file), family)
    if isinstance(model_or_file, tf.keras.Model):
        return _count_keras(model_or_file, family or families.of_keras(model_or_file))
    if formats.QONNX.holds(model_or_file):
        return _count_qonnx(model_or_file, family)
    raise TypeError(
        "expected a Keras model, TFLite bytes or an onnx.ModelProto, got "
        f"{type(model_or_file).__name__}"
    )
