"""Build options every zoo model takes: stem, step, padding and width, validated once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import tensorflow as tf

from abbnn.recipe import ACTIVATIONS, LEAKY_SLOPE, PADDINGS, STEMS, stem_for
from larq_abbnn import layers
from larq_abbnn.families import Family


@dataclass(frozen=True)
class Config:
    """Build options shared by the blocks of one model."""

    stem: str
    step: int
    padding: str
    width_multiplier: float = 1.0
    activation: str = "qprelu"
    #: binary-conv output scales rounded to powers of two (not the paper's; issue 33)
    power_of_two_scales: bool = False

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
        self,
        family: Family,
        filters: int,
        kernel_size: int,
        stride: int,
        name: str,
        binary_input: bool = True,
    ) -> tf.keras.layers.Layer:
        """`family`'s binary conv at this step; `binary_input=False` on a real input."""
        scales = {"power_of_two_scale": True} if self.power_of_two_scales else {}
        return family.binary_conv(
            filters,
            kernel_size,
            stride,
            name=name,
            binary_weights=self.binary_weights,
            binary_input=binary_input,
            **self.conv_padding(binary_input),
            **scales,
        )

    def rprelu_activation(self, name: str) -> tf.keras.layers.Layer:
        """The activation inside an A&B RPReLU: Q-PReLU, or the leaky-ReLU ablation."""
        if self.activation == "leaky":
            return tf.keras.layers.LeakyReLU(alpha=LEAKY_SLOPE, name=name)
        return layers.QuantRPReLU(name=name)

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
    activation: str = "qprelu",
    power_of_two_scales: bool = False,
) -> tuple[tuple, Config]:
    """Validate the common arguments; the stem defaults from the input size
    (`abbnn.recipe.stem_for`: CIFAR's up to 64 px)."""
    if not isinstance(width_multiplier, (int, float)) or not width_multiplier > 0:
        raise ValueError(f"width_multiplier must be a positive number, got {width_multiplier!r}.")
    if stem is not None and stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS} or None, got {stem!r}.")
    if step not in (1, 2):
        raise ValueError(
            f"step must be 1 (binary activations, real weights) or 2 (binary weights "
            f"too), got {step!r}."
        )
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}.")
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
        stem = stem_for(input_shape[0], input_shape[1])
    return input_shape, Config(
        stem=stem,
        step=step,
        padding=padding,
        width_multiplier=float(width_multiplier),
        activation=activation,
        power_of_two_scales=bool(power_of_two_scales),
    )
