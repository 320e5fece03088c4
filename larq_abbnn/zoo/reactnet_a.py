"""ReActNet-A (MobileNet-like) A&B BNN and its BN-Free baseline.

Layer names are the reference PyTorch module paths (`feature.3.binary_3x3`, `fc`, ...).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.families import AB, BN, BN_FREE, Family
from larq_abbnn.zoo.betas import reactnet_a_betas
from larq_abbnn.zoo.config import Config
from larq_abbnn.zoo.model import build_model, documented
from larq_abbnn.zoo.parts import check_poolable, head, prelu

#: Output channels of the stem (index 0) and of the 13 blocks.
CHANNELS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


def block_strides() -> list[int]:
    """Stride 2 where the width changes, except 32 -> 64."""
    return [2 if (cin != cout and cout != 64) else 1 for cin, cout in zip(CHANNELS, CHANNELS[1:])]


def _pointwise(h, o1, out_ch, alpha, cfg, name, family: Family):
    """alpha * binary 1x1(h) + o1; two half-width convs concatenated when widening."""
    in_ch = h.shape[-1]
    if in_ch == out_ch:
        y = cfg.binary_conv(family, in_ch, 1, 1, f"{name}.binary_pw")(h)
        y = layers.Scale(alpha, name=f"{name}.alpha2")(y)
        return tf.keras.layers.Add(name=f"{name}.add2")([y, o1])
    if out_ch != 2 * in_ch:
        raise ValueError(f"{name}: a ReActNet-A block widens by 2, got {in_ch} -> {out_ch}.")
    halves = []
    for i in (1, 2):
        y = cfg.binary_conv(family, in_ch, 1, 1, f"{name}.binary_pw_down{i}")(h)
        y = layers.Scale(alpha, name=f"{name}.alpha2_{i}")(y)
        halves.append(tf.keras.layers.Add(name=f"{name}.add2_{i}")([y, o1]))
    return tf.keras.layers.Concatenate(name=f"{name}.concat")(halves)


def _rprelu(x, name, index, prelu_layer):
    x = layers.LearnableBias(name=f"{name}.move{index}2")(x)
    x = prelu_layer(x)
    return layers.LearnableBias(name=f"{name}.move{index}3")(x)


def ab_block(x, out_ch, stride, alpha, betas, cfg, name):
    """A&B ReActNet-A block: two binary paths, each behind a bias and a mask layer."""
    if stride == 2:
        check_poolable(x, name)
    beta1, beta2 = betas
    in_ch = x.shape[-1]
    h = layers.LearnableBias(divisor=beta1, name=f"{name}.move11")(x)
    h = layers.MaskLayer(beta1, name=f"{name}.mask1")(h)
    y = cfg.binary_conv(AB, in_ch, 3, stride, f"{name}.binary_3x3")(h)
    s = tf.keras.layers.AveragePooling2D(2, 2, name=f"{name}.pooling")(x) if stride == 2 else x
    y = layers.Scale(alpha, name=f"{name}.alpha1")(y)
    o1 = tf.keras.layers.Add(name=f"{name}.add1")([s, y])
    o1 = _rprelu(o1, name, 1, cfg.rprelu_activation(f"{name}.prelu1"))

    h = layers.LearnableBias(divisor=beta2, name=f"{name}.move21")(o1)
    h = layers.MaskLayer(beta2, name=f"{name}.mask2")(h)
    o2 = _pointwise(h, o1, out_ch, alpha, cfg, name, AB)
    return _rprelu(o2, name, 2, cfg.rprelu_activation(f"{name}.prelu2"))


def bnfree_block(x, out_ch, stride, alpha, betas, cfg, name):
    """BN-Free ReActNet-A block: beta1*x and beta2*o1 are real multiplies before the biases."""
    if stride == 2:
        check_poolable(x, name)
    beta1, beta2 = betas
    in_ch = x.shape[-1]
    x_in = layers.Scale(beta1, name=f"{name}.beta1")(x)
    h = layers.LearnableBias(name=f"{name}.move11")(x_in)
    y = cfg.binary_conv(BN_FREE, in_ch, 3, stride, f"{name}.binary_3x3")(h)
    s = tf.keras.layers.AveragePooling2D(2, 2, name=f"{name}.pooling")(x_in) if stride == 2 else x
    y = layers.Scale(alpha, name=f"{name}.alpha1")(y)
    o1 = tf.keras.layers.Add(name=f"{name}.add1")([s, y])
    o1 = _rprelu(o1, name, 1, prelu(f"{name}.prelu1"))

    h = layers.Scale(beta2, name=f"{name}.beta2")(o1)
    h = layers.LearnableBias(name=f"{name}.move21")(h)
    o2 = _pointwise(h, o1, out_ch, alpha, cfg, name, BN_FREE)
    return _rprelu(o2, name, 2, prelu(f"{name}.prelu2"))


def bn_block(x, out_ch, stride, alpha, betas, cfg, name):
    """BN ReActNet-A block (BNN_NoBN's `_bn` model): BatchNorm after each binary conv,
    ordinary PReLUs, no scales. `alpha` and `betas` are not used."""
    if stride == 2:
        check_poolable(x, name)
    in_ch = x.shape[-1]
    h = layers.LearnableBias(name=f"{name}.move11")(x)
    y = cfg.binary_conv(BN, in_ch, 3, stride, f"{name}.binary_3x3")(h)
    y = layers.BatchNorm(name=f"{name}.bn1")(y)
    s = tf.keras.layers.AveragePooling2D(2, 2, name=f"{name}.pooling")(x) if stride == 2 else x
    o1 = tf.keras.layers.Add(name=f"{name}.add1")([s, y])
    o1 = _rprelu(o1, name, 1, prelu(f"{name}.prelu1"))

    h = layers.LearnableBias(name=f"{name}.move21")(o1)
    if in_ch == out_ch:
        y = cfg.binary_conv(BN, in_ch, 1, 1, f"{name}.binary_pw")(h)
        y = layers.BatchNorm(name=f"{name}.bn2")(y)
        o2 = tf.keras.layers.Add(name=f"{name}.add2")([y, o1])
    else:
        if out_ch != 2 * in_ch:
            raise ValueError(f"{name}: a ReActNet-A block widens by 2, got {in_ch} -> {out_ch}.")
        halves = []
        for i in (1, 2):
            y = cfg.binary_conv(BN, in_ch, 1, 1, f"{name}.binary_pw_down{i}")(h)
            y = layers.BatchNorm(name=f"{name}.bn2_{i}")(y)
            halves.append(tf.keras.layers.Add(name=f"{name}.add2_{i}")([y, o1]))
        o2 = tf.keras.layers.Concatenate(name=f"{name}.concat")(halves)
    return _rprelu(o2, name, 2, prelu(f"{name}.prelu2"))


def bn_stem(x: tf.Tensor, cfg: Config) -> tf.Tensor:
    """The BN baseline's first conv: a plain 3x3 conv and BatchNorm, stride 2 (BNN_NoBN's
    only stem) or 1 (CIFAR, as the A&B code's CIFAR stem)."""
    stride = 1 if cfg.stem == "cifar" else 2
    x = layers.SymmetricConv2D(
        cfg.width(CHANNELS[0]), 3, stride, name="feature.0.conv1", **cfg.conv_padding(False)
    )(x)
    return layers.BatchNorm(name="feature.0.bn1")(x)


def stem(x: tf.Tensor, cfg: Config) -> tf.Tensor:
    """The first conv, full precision: ScaledStd 3x3, stride 1 (CIFAR) or 2 (ImageNet)."""
    stride = 1 if cfg.stem == "cifar" else 2
    return layers.ScaledStdConv2D(
        cfg.width(CHANNELS[0]), 3, stride, name="feature.0.conv1", **cfg.conv_padding(False)
    )(x)


def reactnet_a(
    block: Callable,
    x: tf.Tensor,
    *,
    first_layers: Callable = stem,
    cfg: Config,
    alpha: float,
    num_classes: int,
    include_top: bool,
) -> tf.Tensor:
    """The ReActNet-A layout: stem, 13 blocks of `block`, head."""
    strides = block_strides()
    betas = reactnet_a_betas(strides, alpha or 0.0)

    x = first_layers(x, cfg)
    for i, (out_ch, stride) in enumerate(zip(CHANNELS[1:], strides), start=1):
        x = block(x, cfg.width(out_ch), stride, alpha, betas[i - 1], cfg, f"feature.{i}")
    return head(x, num_classes, include_top, pool_name="pool1")


@documented(AB, "ab_reactneta", activation=True)
def ABReActNetA(
    *,
    input_shape: Sequence[int | None] | None = None,
    input_tensor: tf.Tensor | None = None,
    num_classes: int = 1000,
    include_top: bool = True,
    stem: str | None = None,
    step: int = 2,
    alpha: float | None = None,
    padding: str = "reference",
    width_multiplier: float = 1.0,
    activation: str = "qprelu",
    power_of_two_scales: bool = False,
    weights: str | os.PathLike | None = None,
    name: str | None = None,
) -> tf.keras.Model:
    """A&B ReActNet-A (Ma et al., CVPR 2024): ImageNet 66.89%, CIFAR-10 89.44% top-1."""
    return build_model(functools.partial(reactnet_a, ab_block), AB, "ab_reactneta", **locals())


@documented(BN_FREE, "bnfree_reactneta")
def BNFreeReActNetA(
    *,
    input_shape: Sequence[int | None] | None = None,
    input_tensor: tf.Tensor | None = None,
    num_classes: int = 1000,
    include_top: bool = True,
    stem: str | None = None,
    step: int = 2,
    alpha: float | None = None,
    padding: str = "reference",
    width_multiplier: float = 1.0,
    weights: str | os.PathLike | None = None,
    name: str | None = None,
) -> tf.keras.Model:
    """BN-Free ReActNet-A baseline (Chen et al., "BNN - BN = ?", CVPRW 2021)."""
    return build_model(
        functools.partial(reactnet_a, bnfree_block), BN_FREE, "bnfree_reactneta", **locals()
    )


@documented(BN, "bn_reactneta")
def BNReActNetA(
    *,
    input_shape: Sequence[int | None] | None = None,
    input_tensor: tf.Tensor | None = None,
    num_classes: int = 1000,
    include_top: bool = True,
    stem: str | None = None,
    step: int = 2,
    padding: str = "reference",
    width_multiplier: float = 1.0,
    weights: str | os.PathLike | None = None,
    name: str | None = None,
) -> tf.keras.Model:
    """BN ReActNet-A baseline, the paper's BN column (BNN_NoBN's `Qa_/Qaw_reactnet_A_bn`):
    BatchNorm after every binary conv, ReActNet's approx-sign and `HardBinaryConv`.
    CIFAR-10 82.95%, CIFAR-100 50.30% top-1 in the paper."""
    return build_model(
        functools.partial(reactnet_a, bn_block, first_layers=bn_stem),
        BN,
        "bn_reactneta",
        alpha=None,
        **locals(),
    )
