"""What every zoo model shares: input/stem resolution, padding modes, the NF-Net beta
bookkeeping, the classification head, weight loading and the step-1/step-2 switch."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from typing import Callable, Sequence

import h5py
import numpy as np
import tensorflow as tf

from larq_abbnn import layers

STEMS = ("imagenet", "cifar")
PADDINGS = ("reference", "same", "one")

#: Residual-branch scale per family: 2**-2 in A&B (a shift), 0.2 in BN-Free.
DEFAULT_ALPHA = {"ab": 0.25, "bnfree": 0.2}


@dataclass(frozen=True)
class Config:
    """Build options shared by the blocks of one model."""

    stem: str
    step: int
    padding: str
    width_multiplier: float = 1.0

    def width(self, channels: int) -> int:
        """`channels` scaled by the width multiplier (the paper's networks at 1.0)."""
        return max(1, int(round(channels * self.width_multiplier)))

    @property
    def binary_weights(self) -> bool:
        return self.step == 2

    def conv_padding(self, binary_input: bool) -> dict:
        """Keyword arguments for a ScaledStd conv's padding.

        "reference" is PyTorch's symmetric zero padding (needed to load the paper's
        checkpoints); "same" is TF's convention; "one" also pads binary inputs with +1,
        which is LCE's fastest binary convolution.
        """
        if self.padding == "reference":
            return {"padding": "symmetric", "pad_values": 0.0}
        pad_values = 1.0 if (self.padding == "one" and binary_input) else 0.0
        return {"padding": "same", "pad_values": pad_values}

    def binary_conv(
        self, filters: int, kernel_size: int, stride: int, name: str, input_quantizer="sigmoid_sign"
    ) -> layers.BinaryScaledStdConv2D:
        """A binary-weight conv of this step; `input_quantizer=None` for a real input."""
        return layers.BinaryScaledStdConv2D(
            filters,
            kernel_size,
            stride,
            binary_weights=self.binary_weights,
            input_quantizer=input_quantizer,
            name=name,
            **self.conv_padding(input_quantizer is not None),
        )

    def max_pool(self, name: str) -> tf.keras.layers.Layer:
        if self.padding == "reference":
            return layers.SymmetricMaxPooling2D(3, 2, padding=1, name=name)
        return tf.keras.layers.MaxPooling2D(3, 2, padding="same", name=name)


def resolve_config(
    input_shape: Sequence[int | None] | None,
    stem: str | None,
    step: int,
    padding: str,
    num_classes: int,
    include_top: bool,
    width_multiplier: float = 1.0,
) -> tuple[tuple, Config]:
    """Validate the common arguments; the stem defaults from the input size."""
    if not isinstance(width_multiplier, (int, float)) or not width_multiplier > 0:
        raise ValueError(f"width_multiplier must be a positive number, got {width_multiplier!r}.")
    if stem is not None and stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS} or None, got {stem!r}.")
    if step not in (1, 2):
        raise ValueError(
            f"step must be 1 (binary activations, real weights) or 2 (binary weights "
            f"too), got {step!r}."
        )
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}.")
    if include_top and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}.")
    if input_shape is None:
        input_shape = (32, 32, 3) if stem == "cifar" else (224, 224, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}.")
    if stem is None:
        stem = "cifar" if input_shape[:2] == (32, 32) else "imagenet"
    return input_shape, Config(
        stem=stem, step=step, padding=padding, width_multiplier=float(width_multiplier)
    )


def resnet_betas(
    blocks_per_stage: Sequence[int], downsamples: Sequence[bool], alpha: float
) -> list[list[float]]:
    """Per-block beta = 1/sqrt(expected_var) of the NF-ResNet variance bookkeeping.

    The first block of a stage sees the variance carried in; a transition block resets
    it to 1; every later block adds alpha**2 after itself (Brock et al., 2021). Written
    with the same float expressions as the reference so the values match bit for bit.
    """
    expected_var, betas = 1.0, []
    for n, downsample in zip(blocks_per_stage, downsamples):
        stage = [1.0 / expected_var**0.5]
        if downsample:
            expected_var = 1.0
        for _ in range(1, n):
            stage.append(1.0 / expected_var**0.5)
            expected_var += alpha**2
        betas.append(stage)
    return betas


def reactnet_a_betas(strides: Sequence[int], alpha: float) -> list[tuple[float, float]]:
    """(beta1, beta2) per ReActNet-A block: both binary paths advance the variance."""
    expected_var = 1.0
    beta1 = 1.0 / expected_var**0.5
    expected_var += alpha**2
    beta2 = 1.0 / expected_var**0.5
    betas = []
    for stride in strides:
        betas.append((beta1, beta2))
        if stride == 2:
            expected_var = 1.0
        else:
            expected_var += alpha**2
        beta1 = 1.0 / expected_var**0.5
        expected_var += alpha**2
        beta2 = 1.0 / expected_var**0.5
    return betas


def check_poolable(x: tf.Tensor, block: str) -> None:
    """A 2x2 average-pool shortcut must meet its stride-2 conv: the map must be even-sized."""
    height, width = x.shape[1:3]
    if (height is not None and height % 2) or (width is not None and width % 2):
        raise ValueError(
            f"block {block} gets a {height}x{width} feature map: its 2x2 average-pool "
            "shortcut needs even sizes to meet the stride-2 convolution. Choose an "
            "input_shape whose height and width halve evenly down to this block "
            "(multiples of 32 for the ImageNet stem)."
        )


def head(x: tf.Tensor, num_classes: int, include_top: bool, pool_name: str) -> tf.Tensor:
    """Global average pool and the full-precision Linear `fc`, initialised like PyTorch's."""
    if not include_top:
        return x
    x = tf.keras.layers.GlobalAveragePooling2D(name=pool_name)(x)
    bound = 1.0 / float(x.shape[-1]) ** 0.5
    return tf.keras.layers.Dense(
        num_classes,
        kernel_initializer=layers.torch_default_conv_initializer(),
        bias_initializer=tf.keras.initializers.RandomUniform(-bound, bound),
        name="fc",
    )(x)


def prelu(name: str) -> tf.keras.layers.PReLU:
    """Ordinary per-channel PReLU (BN-Free blocks, Bi-ResNet/XNOR stem and tail), init 0.25."""
    return tf.keras.layers.PReLU(
        alpha_initializer=tf.keras.initializers.Constant(0.25), shared_axes=[1, 2], name=name
    )


def load_weights(model: tf.keras.Model, weights: str | os.PathLike | None) -> None:
    """Fill `model` from Keras weights (HDF5, `.keras`) or a paper's PyTorch checkpoint."""
    if weights is None:
        return
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(".keras") or h5py.is_hdf5(path):
        model.load_weights(path)
        return
    if zipfile.is_zipfile(path):  # torch.save's format (the paper's files are named .h5)
        from larq_abbnn.converters.official import load_official_checkpoint

        load_official_checkpoint(model, path)
        return
    raise ValueError(
        f"{path} is neither a Keras weights file (HDF5 or .keras) nor a PyTorch "
        "checkpoint (torch.save zip)."
    )


def trained_looking(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Fill `model` in place with random weights shaped like trained ones, and return it.

    Gains near 1, Q-PReLU exponents in the paper's range, small non-zero biases. For
    timing and equivalence checks without trained weights: a fresh model's zero biases
    are dropped by the TFLite converter, so its file would have fewer ops than a trained
    one (ABReActNetA: 31 ADD instead of 92 before the fold merged them), and its
    pre-sign values would sit at exactly 0 more often than a trained model's.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "gain" in w.name:
            w.assign(rng.uniform(0.5, 1.5, w.shape))
        elif "exponent" in w.name:
            w.assign(rng.uniform(-6, 1.4, w.shape))
        elif "alpha" in w.name:  # PReLU slopes
            w.assign(rng.uniform(0, 0.5, w.shape))
        elif "bias" in w.name:
            w.assign(rng.normal(0, 0.1, w.shape))
        else:
            w.assign(rng.normal(0, 0.05, w.shape))
    return model


def to_step(model: tf.keras.Model, step: int) -> tf.keras.Model:
    """The same network at another training step, on the same variables.

    Step 1 binarizes activations only; step 2 binarizes the binary convs' weights too.
    Every variable keeps its name, shape and value, so a step-1 model continues as
    step 2 without weight surgery, as in the paper's two-step recipe.
    """
    if step not in (1, 2):
        raise ValueError(f"step must be 1 or 2, got {step!r}.")

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, layers.BinaryScaledStdConv2D):
            config["binary_weights"] = step == 2
        return layer.__class__.from_config(config)

    new = tf.keras.models.clone_model(model, clone_function=clone)
    new.set_weights(model.get_weights())
    return new


def binary_conv_count(model: tf.keras.Model) -> int:
    """How many convs have binary inputs and binary weights (each one `LceBconv2d`)."""
    return sum(
        1
        for layer in model.layers
        if isinstance(layer, layers.BinaryScaledStdConv2D)
        and layer.binary_weights
        and layer.input_quantizer is not None
    )


def floatx_input(input_shape: tuple) -> tf.Tensor:
    return tf.keras.Input(shape=input_shape, dtype=tf.keras.backend.floatx(), name="input")


_SIGNATURE_DOC = """

    # Arguments
        input_shape: `(height, width, channels)`; default (224, 224, 3), or (32, 32, 3)
            with `stem="cifar"`.
        num_classes: classes of the `fc` head.
        include_top: whether to add the global average pool and `fc`.
        stem: `"imagenet"` or `"cifar"`; by default `"cifar"` for 32x32 inputs.
        step: 1 builds the paper's step-1 network (binary activations, real weights),
            2 the binary network; both have the same variables (see `to_step`).
        alpha: residual-branch scale, default {alpha} (the paper's); betas follow it.
        padding: `"reference"` (PyTorch's symmetric zero padding, which the paper's
            checkpoints need), `"same"` (TF's) or `"one"` (TF's, binary inputs padded
            with +1: LCE's fastest binary conv).
        width_multiplier: scales every layer's channel count (rounded); 1.0 is the
            paper's network, smaller values suit quick experiments and small devices.
        weights: a Keras weights file, or one of the paper's PyTorch checkpoints.
        name: model name (default `{name}`).

    # Returns
        A `tf.keras.Model`.
"""


def snake_name(class_style: str) -> str:
    """ABReActNet18 -> ab_reactnet18, the names of reference_state_dicts.json."""
    return (
        class_style.replace("BNFree", "bnfree_")
        .replace("AB", "ab_")
        .replace("ReActNet", "reactnet")
        .replace("BiResNet", "biresnet")
        .replace("XnorNet", "xnornet")
        .lower()
    )


def zoo_model(builder: Callable[..., tf.keras.Model], family: str):
    """Turn a documented stub into a zoo model function with the shared signature.

    `builder(family=, default_name=, input_shape=, ...)` builds the network; the stub
    gives the public name (and so the default model name) and the first docstring line.
    """

    def decorator(stub):
        default_name = snake_name(stub.__name__)

        def model(
            input_shape: Sequence[int | None] | None = None,
            num_classes: int = 1000,
            *,
            include_top: bool = True,
            stem: str | None = None,
            step: int = 2,
            alpha: float | None = None,
            padding: str = "reference",
            width_multiplier: float = 1.0,
            weights: str | os.PathLike | None = None,
            name: str | None = None,
        ) -> tf.keras.Model:
            input_shape, cfg = resolve_config(
                input_shape, stem, step, padding, num_classes, include_top, width_multiplier
            )
            model = builder(
                input_shape=input_shape,
                cfg=cfg,
                alpha=DEFAULT_ALPHA[family] if alpha is None else float(alpha),
                num_classes=num_classes,
                include_top=include_top,
                name=name or default_name,
            )
            load_weights(model, weights)
            return model

        model.__name__ = model.__qualname__ = stub.__name__
        model.__module__ = stub.__module__
        model.__doc__ = (stub.__doc__ or "") + _SIGNATURE_DOC.format(
            alpha=DEFAULT_ALPHA[family], name=default_name
        )
        return model

    return decorator
