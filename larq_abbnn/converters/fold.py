"""Folding a trained A&B (or BN-Free, or BN) Keras model into its inference form.

The inference model computes the same function with what LCE runs fastest and with no
full-precision multiplication left in A&B blocks:

- every `MaskLayer` is removed: it only scales the input of a sign, and
  `sign(beta * (x + b / beta)) = sign(x + b / beta)` for beta > 0;
- weight standardization, gains and mean-|w| factors are precomputed: a binary conv
  becomes a Larq conv with a +-1 kernel and a per-channel output scale `a * g`, which LCE
  absorbs into `LceBconv2d`'s output multiplier;
- a residual alpha right after a binary conv joins that multiplier; any other alpha
  stays, and must be a power of two (a shift) in an A&B model;
- a BatchNorm right after a conv (the BN baselines) joins it: its scale goes into the
  conv's output multiplier, its shift into the conv's bias, inside the conv's mirroring
  flips (the converter cannot fuse a BatchNorm that follows a `REVERSE_V2`);
- Q-PReLU slopes are frozen to their powers of two (a TFLite `PRELU` of shifts);
- the bias right after a residual add (or a concat of them) moves before the add, onto
  the binary conv's output, where LCE fuses it too (`(alpha*y + r) + b == (alpha*y + b)
  + r`); the bias ending a block leaves the residual stream: the next sign's bias and
  the next residual add's binary conv take it (`sign(x + b + b')`, one ADD instead of
  two). A trained ABReActNetA keeps 58 of its 92 ADD ops: a residual add per binary
  conv, a bias per sign and the last block's bias before the head;
- a zero-padded binary conv on a map smaller than its kernel becomes a one-padded conv
  and a constant correction after the residual add, `s + (y1 - C) = (s + y1) - C`:
  LCE 0.16's optimized kernel miscomputes zero padding on such maps (ABReActNetA's last
  block on CIFAR runs on 2x2), and fuses a spatial constant placed right after the conv
  into its per-channel bias, which then fails to load.

Each rewrite is one named pass over the graph (`PASSES`, in order: `remove_masks`,
`join_scales`, `join_batch_norms`, `move_biases_back`, `move_biases_forward`,
`correct_padding`), filling one `Plan` (`plan(model)`); `fold` then rebuilds the graph
from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from larq import math as lq_math
from larq.quantizers import NoOp

from larq_abbnn import families, layers, quantizers
from larq_abbnn.data.transforms import MEAN, STD
from larq_abbnn.graph import consumers, inbound_layers, output_layers
from larq_abbnn.layers import SpatialBias
from larq_abbnn.layers_base import dilated_size, one_padding_correction
from larq_abbnn.quantizers import scaled_weight_standardization

#: Every layer the fold takes, and what becomes of it (the one list: anything else is a
#: `FoldError` naming the layer).
SUPPORTED_LAYERS = (
    # rewritten: a conv gets its precomputed kernel and output scale (`ConvRewrite`)
    layers.SymmetricConv2D,
    # removed before a sign
    layers.MaskLayer,
    # joined to the binary conv before it, else kept (a shift in an A&B model)
    layers.Scale,
    # moved onto a binary conv's output or into the next bias, else kept
    layers.LearnableBias,
    # frozen to its powers of two: a Keras PReLU of shifts
    layers.QuantRPReLU,
    # joined to the conv before it, else kept as it is
    tf.keras.layers.BatchNormalization,
    # copied as they are: no weights, or weights used as they are
    tf.keras.layers.InputLayer,
    tf.keras.layers.Add,
    tf.keras.layers.Concatenate,
    tf.keras.layers.AveragePooling2D,
    tf.keras.layers.MaxPooling2D,
    tf.keras.layers.GlobalAveragePooling2D,
    tf.keras.layers.Dense,
    tf.keras.layers.PReLU,
    tf.keras.layers.LeakyReLU,  # the slope ablation: a fixed 2**-3, LCE's LEAKY_RELU
    tf.keras.layers.Flatten,
    tf.keras.layers.Identity,
    tf.keras.layers.ReLU,
    tf.keras.layers.Activation,
    layers.PixelNormalization,
)

#: Every layer class a folded model can hold: what the fold copies or keeps, and what it
#: writes (every conv becomes a `ScaledStdConv2D`, a Q-PReLU a Keras `PReLU`, plus the
#: `SpatialBias` corrections and the `PixelNormalization` in front). Every format's
#: exporter and the audit have a rule for each (tests/test_conversion.py checks it).
OUTPUT_LAYERS = (
    *(
        kind
        for kind in SUPPORTED_LAYERS
        if kind not in (layers.SymmetricConv2D, layers.MaskLayer, layers.QuantRPReLU)
    ),
    layers.ScaledStdConv2D,
    layers.SpatialBias,
)

#: What a folded model's input takes (`fold`'s `input_pixels`): "normalized" images, as
#: the trained model (`larq_abbnn.data.preprocess_input`'s output), or raw "uint8" pixels
#: with the normalization inside the graph (`layers.PixelNormalization`), for a board
#: that feeds its camera's bytes.
INPUT_PIXELS = ("normalized", "uint8")


class FoldError(ValueError):
    """A graph the fold cannot turn into an exactly equivalent inference graph."""


@dataclass
class ConvRewrite:
    """What the fold does to one conv: the factors joining its per-channel output scale,
    the constants joining its bias, and LCE's one padding where zero padding is unsafe."""

    #: the residual alpha after it
    alpha: float = 1.0
    #: scale and shift of the BatchNorm after it
    bn_scale: np.ndarray | float = 1.0
    bn_shift: np.ndarray | None = None
    #: constants moved onto its output from biases further on
    moved_bias: np.ndarray | float | None = None
    #: the residual add that takes the correction of its one padding (None: zero padding)
    corrected_at: str | None = None

    @property
    def bias(self) -> np.ndarray | None:
        """The folded conv's bias: the BatchNorm's shift plus the moved constants."""
        if self.bn_shift is None:
            return self.moved_bias
        return self.bn_shift + (0.0 if self.moved_bias is None else self.moved_bias)


def _producer(layer):
    inbound = inbound_layers(layer)
    if len(inbound) != 1:
        raise FoldError(f"layer '{layer.name}' has {len(inbound)} inputs, expected one")
    return inbound[0]


def _has_sign_input(layer) -> bool:
    return isinstance(layer, layers.ScaledStdConv2D) and layers.has_binary_input(layer)


def _check_layers(model) -> None:
    for layer in model.layers:
        if len(layer.inbound_nodes) > 1:
            raise FoldError(f"layer '{layer.name}' is used {len(layer.inbound_nodes)} times")
        if isinstance(layer, layers.ScaledStdConv2D) and not isinstance(
            layer.kernel_quantizer, (quantizers.ScaledStd, quantizers.ScaledStdSign)
        ):
            # fold's own output: its kernels are already standardized (+-1 for binary
            # convs); standardizing them again would silently change the function.
            raise FoldError(
                f"layer '{layer.name}' is already folded (kernel quantizer "
                f"{type(layer.kernel_quantizer).__name__}, not scaled weight "
                "standardization): fold the trained model, not fold's output"
            )
        if not isinstance(layer, SUPPORTED_LAYERS):
            raise FoldError(
                f"layer '{layer.name}' ({type(layer).__name__}) is not one the fold knows "
                "how to fold exactly"
            )


class Plan:
    """What happens to each layer, decided from the whole graph before rebuilding: the
    layers removed, one `ConvRewrite` per conv, the constants moved into biases and the
    padding corrections after residual adds. `PASSES` fill it, in order (`plan`)."""

    def __init__(self, model):
        self.consumers = consumers(model)
        self.family = families.of_keras(model)
        self.removed: set[str] = set()
        self.convs: dict[str, ConvRewrite] = {
            layer.name: ConvRewrite()
            for layer in model.layers
            if isinstance(layer, layers.SymmetricConv2D)
        }
        self.extra_bias: dict[str, np.ndarray] = {}  # bias -> constant moved into it
        self.corrections: dict[str, np.ndarray] = {}  # add -> constant to add after it

    def _plan_correction(self, conv):
        if conv.pad_values != 0.0 or conv.padding == "valid":
            return
        if tuple(conv.strides) != (1, 1):
            raise FoldError(
                f"binary conv '{conv.name}' pads zeros at stride {conv.strides} on a map "
                f"{tuple(conv.input_shape[1:3])} smaller than its kernel, which LCE 0.16 "
                "miscomputes; build the model for larger inputs (64 px and more with the "
                "ImageNet stem) or with the CIFAR stem"
            )
        node = conv
        while True:
            readers = self.consumers[node.name]
            if len(readers) != 1:
                break
            node = readers[0]
            if node.name not in self.removed or isinstance(node, tf.keras.layers.Add):
                break
        if not isinstance(node, tf.keras.layers.Add) or node.name in self.corrections:
            raise FoldError(
                f"binary conv '{conv.name}' runs on a map smaller than its kernel with zero "
                "padding (miscomputed by LCE 0.16) and does not feed a residual add where "
                "the fold could correct it"
            )
        rewrite = self.convs[conv.name]
        rewrite.corrected_at = node.name
        kernel, gain = folded_kernel_and_gain(conv, rewrite)
        self.corrections[node.name] = -_one_padding_contribution(conv, kernel, gain)

    def _remove_mask(self, mask):
        for consumer in self.consumers[mask.name]:
            if not _has_sign_input(consumer):
                raise FoldError(
                    f"MaskLayer '{mask.name}' feeds '{consumer.name}', which does not "
                    "binarize its input: only a mask right before a sign can be removed"
                )
        self.removed.add(mask.name)

    def _fold_scale(self, scale):
        source = _producer(scale)
        if layers.is_binary_conv(source) and len(self.consumers[source.name]) == 1:
            self.convs[source.name].alpha = scale.scale
            self.removed.add(scale.name)
        elif self.family.shifts and not scale.is_power_of_two:
            raise FoldError(
                f"Scale '{scale.name}' multiplies by {scale.scale}, not a power of two, in "
                f"an {self.family.title} model: it would stay a full-precision multiplication"
            )

    def _fold_batch_norm(self, bn):
        """A BatchNorm right after a conv joins it: `gamma * (y - mean) / sqrt(var + eps) +
        beta` is a per-channel scale (into the conv's output multiplier) and a shift (its
        bias), inside the conv and so inside its mirroring flips, where LCE fuses both."""
        source = _producer(bn)
        if not isinstance(source, layers.SymmetricConv2D) or len(self.consumers[source.name]) != 1:
            return  # left as it is: one multiplication per output, as the audit counts
        if bn.axis not in ([-1], [3], -1, 3) or not (bn.scale and bn.center):
            return
        rewrite = self.convs[source.name]
        rewrite.bn_scale, rewrite.bn_shift = layers.batch_norm_affine(bn)
        self.removed.add(bn.name)

    def _conv_into(self, add):
        """The binary conv whose output only feeds `add` (maybe through its alpha), or None.

        A constant added anywhere before `add` can instead be added to that conv's output,
        where LCE fuses it into `LceBconv2d`'s per-channel bias: `(y + r) + b == (y + b) + r`.
        """
        for branch in inbound_layers(add):
            conv = branch
            if isinstance(branch, layers.Scale) and branch.name in self.removed:
                conv = _producer(branch)
            if (
                layers.is_binary_conv(conv)
                and len(self.consumers[conv.name]) == 1
                and len(self.consumers[branch.name]) == 1
            ):
                return conv
        return None

    def _move_onto_conv(self, conv, value):
        rewrite = self.convs[conv.name]
        rewrite.moved_bias = (0.0 if rewrite.moved_bias is None else rewrite.moved_bias) + value

    def _move_bias_back(self, bias):
        """A bias right after a residual add (or a concat of them) moves onto the convs."""
        producer = _producer(bias)
        if len(self.consumers[producer.name]) != 1:
            return
        value = _bias_value(bias)
        if isinstance(producer, tf.keras.layers.Add):
            parts = [(producer, value)]
        elif isinstance(producer, tf.keras.layers.Concatenate) and producer.axis in (-1, 3):
            adds = inbound_layers(producer)
            bounds = np.cumsum([0] + [int(add.output.shape[-1]) for add in adds])
            parts = [(add, value[start:stop]) for add, start, stop in zip(adds, bounds, bounds[1:])]
        else:
            return
        targets = []
        for add, part in parts:
            conv = self._conv_into(add) if isinstance(add, tf.keras.layers.Add) else None
            if conv is None or len(self.consumers[add.name]) != 1:
                return
            targets.append((conv, part))
        for conv, part in targets:
            self._move_onto_conv(conv, part)
        self.removed.add(bias.name)

    def _move_bias_forward(self, bias):
        """A bias on a residual stream leaves the stream: each reader takes it instead.

        `sign(x + b + b')` takes it into the next bias (merging two ADDs into one), and a
        residual add into its binary conv's fused bias; average pooling and (BN-Free)
        scales pass a per-channel constant on. The head cannot take it: the last block's
        bias stays.
        """
        readers = self.consumers[bias.name]
        moves = []
        if readers and all(self._takes(r, self.value(bias), moves) for r in readers):
            for target, value in moves:
                if isinstance(target, layers.LearnableBias):
                    self.extra_bias[target.name] = self.extra_bias.get(target.name, 0.0) + value
                else:
                    self._move_onto_conv(target, value)
            self.removed.add(bias.name)

    def _takes(self, layer, value, moves) -> bool:
        """Whether a constant added to `layer`'s input can be added further on instead."""
        if layer.name in self.removed:
            return False
        if isinstance(layer, layers.LearnableBias):
            moves.append((layer, value))
            return True
        if isinstance(layer, tf.keras.layers.Add):
            conv = self._conv_into(layer)
            if conv is None:
                return False
            moves.append((conv, value))
            return True
        if isinstance(layer, (layers.Scale, tf.keras.layers.AveragePooling2D)):
            factor = layer.scale if isinstance(layer, layers.Scale) else 1.0
            readers = self.consumers[layer.name]
            return bool(readers) and all(self._takes(r, value * factor, moves) for r in readers)
        return False

    def value(self, bias) -> np.ndarray:
        """What `bias` adds, with what earlier biases moved into it."""
        return _bias_value(bias) + self.extra_bias.get(bias.name, 0.0)


def remove_masks(plan: Plan, model) -> None:
    """Every mask layer goes: it only scales the input of a sign (a `FoldError` where it
    feeds anything else)."""
    for layer in model.layers:
        if isinstance(layer, layers.MaskLayer):
            plan._remove_mask(layer)


def join_scales(plan: Plan, model) -> None:
    """A residual alpha right after a binary conv joins its output multiplier; another
    scale stays (a `FoldError` in an A&B model unless it is a power of two)."""
    for layer in model.layers:
        if isinstance(layer, layers.Scale):
            plan._fold_scale(layer)


def join_batch_norms(plan: Plan, model) -> None:
    """A BatchNorm right after a one-reader conv joins it (scale and shift)."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            plan._fold_batch_norm(layer)


def move_biases_back(plan: Plan, model) -> None:
    """A bias right after a residual add (or a concat of them) moves onto the binary convs
    feeding the adds. Reads `join_scales`' removals (an alpha joined to its conv)."""
    for layer in model.layers:
        if isinstance(layer, layers.LearnableBias) and layer.divisor == 1.0:
            plan._move_bias_back(layer)


def move_biases_forward(plan: Plan, model) -> None:
    """A bias still on a residual stream leaves it for its readers, in graph order, so
    that moved constants travel on. Skips the biases `move_biases_back` removed."""
    for layer in model.layers:
        if isinstance(layer, layers.LearnableBias) and layer.name not in plan.removed:
            plan._move_bias_forward(layer)


def correct_padding(plan: Plan, model) -> None:
    """A zero-padded binary conv on a map smaller than its kernel becomes one-padded, with
    a correction after the residual add it feeds (through removed layers: the earlier
    passes' removals)."""
    for layer in model.layers:
        if layers.is_binary_conv(layer) and _smaller_than_kernel(layer):
            plan._plan_correction(layer)


#: The fold's passes, in the order they must run: each reads what the earlier ones
#: decided (the removals above all).
PASSES = (
    remove_masks,
    join_scales,
    join_batch_norms,
    move_biases_back,
    move_biases_forward,
    correct_padding,
)


def plan(model: tf.keras.Model, passes=PASSES) -> Plan:
    """The fold's decisions for `model` (functional or Sequential), after `passes`."""
    model = _functional(model)
    _check_layers(model)
    decided = Plan(model)
    for step in passes:
        step(decided, model)
    return decided


def _bias_value(bias) -> np.ndarray:
    return np.asarray(tf.keras.backend.get_value(bias.bias), np.float64) / bias.divisor


def _smaller_than_kernel(layer) -> bool:
    sizes = layer.input_shape[1:3]
    kernel = [dilated_size(k, d) for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    return any(s is not None and s < k for s, k in zip(sizes, kernel))


def _one_padding_contribution(conv, kernel, gain) -> np.ndarray:
    """What padding with +1 instead of 0 adds to a "same" conv's output: (Ho, Wo, C),
    for the folded `kernel` and `gain` in the fold's float type."""
    _, h, w, _ = conv.input_shape
    kh, kw = conv.kernel_size
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pads = (top, left, kh - 1 - top, kw - 1 - left)
    correction = one_padding_correction(np.asarray(kernel, np.float64), (h, w), pads)
    return correction * np.asarray(gain, np.float64)


def _kernel_and_scale(layer) -> tuple[tf.Tensor, tf.Tensor]:
    """The kernel the layer convolves with, as `+-1` (binary) or real values, and the
    per-channel scale after the conv."""
    if isinstance(layer, layers.ScaledStdConv2D):
        kernel = scaled_weight_standardization(layer.kernel, layer.eps)
        scale = tf.convert_to_tensor(layer.gain)
    else:  # SymmetricConv2D, BinaryConv2D: the kernel itself, no gain
        kernel = tf.convert_to_tensor(layer.kernel)
        scale = tf.ones(kernel.shape[-1:], kernel.dtype)
    if getattr(layer, "binary_weights", False):
        axes = list(range(kernel.shape.rank - 1))
        magnitude = tf.reduce_mean(tf.abs(kernel), axis=axes)
        if isinstance(layer, layers.BinaryScaledStdConv2D):
            scale = layer.output_scale(magnitude, kernel.dtype)  # a power of two, if asked
        else:
            scale = magnitude * scale
        kernel = lq_math.sign(kernel)
    return kernel, scale


def folded_kernel_and_gain(layer, rewrite: ConvRewrite) -> tuple[tf.Tensor, tf.Tensor]:
    """The folded conv's kernel and per-channel output scale (alpha and BatchNorm joined),
    in the fold's float type (Keras's floatx, as its variables)."""
    kernel, scale = _kernel_and_scale(layer)
    gain = scale * rewrite.alpha * rewrite.bn_scale
    floatx = tf.keras.backend.floatx()
    return tf.cast(kernel, floatx), tf.cast(gain, floatx)


def _folded_conv(layer, rewrite: ConvRewrite, x):
    """A Larq conv with the precomputed kernel, then the per-channel scale (and bias)."""
    binary_weights = getattr(layer, "binary_weights", False)
    config = layer.get_config()
    for key in (*layers.BINARY_CONV_KEYS, "kernel_quantizer", "input_quantizer",
                "kernel_initializer"):  # fmt: skip
        config.pop(key, None)
    if rewrite.corrected_at is not None:
        config.update(padding="same", pad_values=1.0)
    signs = layers.has_binary_input(layer)
    bias = rewrite.bias
    config["use_bias"] = bias is not None  # inside the conv, so also inside its mirroring flips
    conv = layers.ScaledStdConv2D(
        **config,
        input_quantizer="ste_sign" if signs else None,
        kernel_quantizer="ste_sign" if binary_weights else NoOp(precision=32),
    )
    y = conv(x)
    if bias is not None:
        conv.bias.assign(bias)
    kernel, gain = folded_kernel_and_gain(layer, rewrite)
    conv.kernel.assign(kernel)
    conv.gain.assign(gain)
    return y


def _frozen_prelu(layer, x):
    """A Q-PReLU as a Keras PReLU of its powers of two: a TFLite `PRELU` of shifts."""
    prelu = tf.keras.layers.PReLU(shared_axes=[1, 2], name=layer.name)
    y = prelu(x)
    slopes = 2.0 ** np.round(tf.keras.backend.get_value(layer.exponent))
    prelu.alpha.assign(np.reshape(slopes, prelu.alpha.shape))
    return y


def _merged_bias(layer, value, x):
    bias = layers.LearnableBias(name=layer.name)
    y = bias(x)
    bias.bias.assign(value)
    return y


def _copy(layer, x, correction):
    """The layer as it is, then its padding correction, if a one-padded conv feeds it."""
    clone = type(layer).from_config(layer.get_config())
    y = clone(x)
    clone.set_weights(layer.get_weights())
    if correction is not None:
        fix = SpatialBias(correction.shape, name=f"{layer.name}.padding_correction")
        y = fix(y)
        fix.bias.assign(correction)
    return y


def joined_batch_norms(model: tf.keras.Model) -> frozenset[str]:
    """The names of the BatchNorms the fold joins to the conv before them, from the fold's
    own plan (the audit counts those as fused, the rest as multiplications); none for a
    model the fold cannot take."""
    try:
        decided = plan(model)
    except FoldError:
        return frozenset()
    return frozenset(
        layer.name
        for layer in model.layers
        if isinstance(layer, tf.keras.layers.BatchNormalization) and layer.name in decided.removed
    )


def _input(layer, input_pixels: str):
    """The folded model's input for the trained model's input layer, and what the next
    layer reads: the input itself, or its pixels normalized (`input_pixels="uint8"`)."""
    spec = layer.get_config()
    shape = spec["batch_input_shape"]
    if input_pixels == "normalized":
        x = tf.keras.Input(batch_shape=shape, dtype=spec["dtype"], name=layer.name)
        return x, x
    if len(shape) != 4 or shape[-1] != len(MEAN):
        raise FoldError(
            f"input '{layer.name}' of shape {tuple(shape)}: input_pixels='uint8' takes "
            f"NHWC images of {len(MEAN)} channels (the normalization's means and stds)"
        )
    x = tf.keras.Input(batch_shape=shape, dtype="uint8", name=layer.name)
    return x, layers.PixelNormalization(MEAN, STD, name="pixel_normalization")(x)


#: What `fold` does, in the words progress messages use (`convert`, `abbnn convert`).
STAGE = "folding (mask layers out; standardization, gains, alphas and slopes precomputed)"


def fold(model: tf.keras.Model, *, input_pixels: str = "normalized") -> tf.keras.Model:
    """The inference form of `model`: same function, nothing LCE cannot run fast.

    `input_pixels` (`INPUT_PIXELS`) is what the folded model takes: the normalized images
    `model` takes ("normalized"), or raw uint8 pixels ("uint8"), normalized by a
    `PixelNormalization` in front (`larq_abbnn.data.preprocess_input` inside the graph).

    Raises `FoldError` naming the layer for any graph it cannot fold exactly: a mask
    layer not followed by a sign, a non-power-of-two alpha in an A&B model, a layer it
    does not know, a layer used more than once.
    """
    if input_pixels not in INPUT_PIXELS:
        raise ValueError(
            f"input_pixels={input_pixels!r}: expected one of {', '.join(INPUT_PIXELS)}"
        )
    model = _functional(model)
    if input_pixels == "uint8" and any(
        isinstance(layer, layers.PixelNormalization) for layer in model.layers
    ):
        raise FoldError(
            f"{model.name} already normalizes its pixels (a PixelNormalization layer): "
            "input_pixels='uint8' would normalize them twice"
        )
    decided = plan(model)
    tensors = {}
    new_inputs = []
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            new_input, tensors[layer.name] = _input(layer, input_pixels)
            new_inputs.append(new_input)
            continue
        sources = [tensors[source.name] for source in inbound_layers(layer)]
        x = sources[0] if len(sources) == 1 else sources
        if layer.name in decided.removed:
            tensors[layer.name] = x
        elif layer.name in decided.convs:
            tensors[layer.name] = _folded_conv(layer, decided.convs[layer.name], x)
        elif layer.name in decided.extra_bias:
            tensors[layer.name] = _merged_bias(layer, decided.value(layer), x)
        elif isinstance(layer, layers.QuantRPReLU):
            tensors[layer.name] = _frozen_prelu(layer, x)
        else:
            tensors[layer.name] = _copy(layer, x, decided.corrections.get(layer.name))
    outputs = [tensors[layer.name] for layer in output_layers(model)]
    return tf.keras.Model(
        new_inputs, outputs[0] if len(outputs) == 1 else outputs, name=f"{model.name}_folded"
    )


def _functional(model: tf.keras.Model) -> tf.keras.Model:
    """`model` as a graph of layers with its input layers listed (a `Sequential` model's
    `layers` leave its input out): the same layers and weights."""
    if not isinstance(model, tf.keras.Sequential):
        if not getattr(model, "_is_graph_network", True):
            raise FoldError(
                f"{model.name} is a subclassed Keras model ({type(model).__name__}): fold "
                "reads a functional or Sequential model's graph of layers"
            )
        return model
    if not model.built or not model.inputs:
        raise FoldError(
            f"Sequential model {model.name} has no input shape: build it with an "
            "Input (or input_shape=) first"
        )
    return tf.keras.Model(model.inputs, model.outputs, name=model.name)
