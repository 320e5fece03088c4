"""ResNet-family A&B BNNs (ReActNet-18/34, Bi-ResNet-18, XNOR-Net-18) and the BN-Free
ReActNet-18 baseline.

Layer names are the reference PyTorch module paths (`layer2.0.conv1`, `fc`, ...), so a
summary reads like the paper's Figure 1 and every checkpoint key names its layer.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence

import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.families import AB, BN, BN_FREE
from larq_abbnn.zoo.betas import resnet_betas
from larq_abbnn.zoo.config import Config
from larq_abbnn.zoo.model import build_model, documented
from larq_abbnn.zoo.parts import check_poolable, head, prelu

WIDTHS = (64, 128, 256, 512)


def stem(x: tf.Tensor, cfg: Config, outer_prelu: bool = False) -> tf.Tensor:
    """ScaledStd conv (CIFAR: 3x3/1; ImageNet: 7x7/2 then 3x3/2 max-pool)."""
    if cfg.stem == "cifar":
        x = layers.ScaledStdConv2D(cfg.width(64), 3, 1, name="conv1", **cfg.conv_padding(False))(x)
    else:
        x = layers.ScaledStdConv2D(cfg.width(64), 7, 2, name="conv1", **cfg.conv_padding(False))(x)
    if outer_prelu:
        x = prelu("prelu1")(x)
    if cfg.stem == "imagenet":
        x = cfg.max_pool("maxpool")(x)
    return x


def bn_stem(x: tf.Tensor, cfg: Config, outer_prelu: bool = False) -> tf.Tensor:
    """The BN baselines' first layers: a plain conv and BatchNorm (CIFAR: 3x3/1; ImageNet:
    7x7/2, then 3x3/2 max-pool)."""
    kernel, stride = (3, 1) if cfg.stem == "cifar" else (7, 2)
    x = layers.SymmetricConv2D(
        cfg.width(64), kernel, stride, name="conv1", **cfg.conv_padding(False)
    )(x)
    x = layers.BatchNorm(name="bn1")(x)
    if cfg.stem == "imagenet":
        x = cfg.max_pool("maxpool")(x)
    return x


def bn_reactnet_block(x, filters, stride, alpha, beta, cfg, name):
    """BN ReActNet-18 block (BNN_NoBN's `_bn` model): sign(x + b0) -> binconv3x3 -> BN,
    plus the shortcut (avgpool 2x2 -> binary-weight 1x1 -> BN when downsampling), RPReLU.
    `alpha` and `beta` are not used: BatchNorm takes their place."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.LearnableBias(name=f"{name}.move0")(x)
    y = cfg.binary_conv(BN, filters, 3, stride, f"{name}.binary_conv")(h)
    y = layers.BatchNorm(name=f"{name}.bn1")(y)
    if downsample:
        check_poolable(x, name)
        r = tf.keras.layers.AveragePooling2D(2, stride, name=f"{name}.downsample.0")(x)
        r = cfg.binary_conv(BN, filters, 1, 1, f"{name}.downsample.1", binary_input=False)(r)
        r = layers.BatchNorm(name=f"{name}.downsample.2")(r)
    else:
        r = x
    x = tf.keras.layers.Add(name=f"{name}.add")([y, r])
    return _rprelu_tail(x, name, prelu(f"{name}.prelu"))


def _pooled_binary_shortcut(x, filters, stride, cfg, name, family):
    """avgpool 2x2 then a binary-weight 1x1 conv on the real-valued input (no sign)."""
    check_poolable(x, name)
    x = tf.keras.layers.AveragePooling2D(2, stride, name=f"{name}.downsample.0")(x)
    return cfg.binary_conv(family, filters, 1, 1, f"{name}.downsample.1", binary_input=False)(x)


def _rprelu_tail(x, name, prelu_layer):
    x = layers.LearnableBias(name=f"{name}.move1")(x)
    x = prelu_layer(x)
    return layers.LearnableBias(name=f"{name}.move2")(x)


def ab_reactnet_block(x, filters, stride, alpha, beta, cfg, name):
    """A&B ReActNet block: sign(beta*(x + b0/beta)) -> binconv3x3; alpha*y + r; RPReLU."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.LearnableBias(divisor=beta, name=f"{name}.move0")(x)
    h = layers.MaskLayer(beta, name=f"{name}.mask")(h)
    y = cfg.binary_conv(AB, filters, 3, stride, f"{name}.conv1")(h)
    r = _pooled_binary_shortcut(x, filters, stride, cfg, name, AB) if downsample else x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    x = tf.keras.layers.Add(name=f"{name}.add")([y, r])
    return _rprelu_tail(x, name, cfg.rprelu_activation(f"{name}.prelu"))


def bnfree_reactnet_block(x, filters, stride, alpha, beta, cfg, name):
    """BN-Free ReActNet block: beta*x (a real multiply) feeds the sign and the shortcut."""
    downsample = stride != 1 or x.shape[-1] != filters
    x_in = layers.Scale(beta, name=f"{name}.beta")(x)
    h = layers.LearnableBias(name=f"{name}.move0")(x_in)
    y = cfg.binary_conv(BN_FREE, filters, 3, stride, f"{name}.binary_conv")(h)
    r = _pooled_binary_shortcut(x_in, filters, stride, cfg, name, BN_FREE) if downsample else x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    x = tf.keras.layers.Add(name=f"{name}.add")([y, r])
    return _rprelu_tail(x, name, prelu(f"{name}.prelu"))


def bi_block(x, filters, stride, alpha, beta, cfg, name):
    """A&B Bi-ResNet block: alpha*binconv3x3(sign(beta*x)) + r; full-precision shortcut."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.MaskLayer(beta, name=f"{name}.mask")(x)
    y = cfg.binary_conv(AB, filters, 3, stride, f"{name}.conv1")(h)
    if downsample:
        check_poolable(x, name)
        r = tf.keras.layers.AveragePooling2D(2, stride, name=f"{name}.downsample.0")(x)
        r = layers.ScaledStdConv2D(
            filters, 1, 1, name=f"{name}.downsample.1", **cfg.conv_padding(False)
        )(r)
    else:
        r = x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    return tf.keras.layers.Add(name=f"{name}.add")([y, r])


def xnor_block(x, filters, stride, alpha, beta, cfg, name):
    """A&B XNOR-Net block: as Bi-ResNet, shortcut a binary-weight 1x1 conv at stride 2."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.MaskLayer(beta, name=f"{name}.mask")(x)
    y = cfg.binary_conv(AB, filters, 3, stride, f"{name}.conv1")(h)
    if downsample:
        r = cfg.binary_conv(AB, filters, 1, stride, f"{name}.downsample.0", binary_input=False)(x)
    else:
        r = x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    return tf.keras.layers.Add(name=f"{name}.add")([y, r])


def resnet(
    block: Callable,
    blocks_per_stage: Sequence[int],
    outer_prelu: bool,
    x: tf.Tensor,
    *,
    first_layers: Callable = stem,
    cfg: Config,
    alpha: float,
    num_classes: int,
    include_top: bool,
) -> tf.Tensor:
    """The ResNet-18/34 layout: stem, four stages of `block`, optional outer PReLUs, head."""
    strides = [1, 2, 2, 2]
    downsamples = [s != 1 or w != WIDTHS[0] for s, w in zip(strides, WIDTHS)]
    betas = resnet_betas(blocks_per_stage, downsamples, alpha or 0.0)

    x = first_layers(x, cfg, outer_prelu=outer_prelu)
    for s, (n, width, stride) in enumerate(zip(blocks_per_stage, WIDTHS, strides)):
        for b in range(n):
            x = block(
                x,
                cfg.width(width),
                stride if b == 0 else 1,
                alpha,
                betas[s][b],
                cfg,
                f"layer{s + 1}.{b}",
            )
    if outer_prelu:
        x = prelu("prelu2")(x)
    return head(x, num_classes, include_top, pool_name="avgpool")


@documented(AB, "ab_reactnet18", activation=True)
def ABReActNet18(
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
    """A&B ReActNet-18 (Ma et al., CVPR 2024): ImageNet 61.39%, CIFAR-10 92.30% top-1."""
    return build_model(
        functools.partial(resnet, ab_reactnet_block, (4, 4, 4, 4), False),
        AB,
        "ab_reactnet18",
        **locals(),
    )


@documented(AB, "ab_reactnet34", activation=True)
def ABReActNet34(
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
    """A&B ReActNet-34 (Ma et al., CVPR 2024): ImageNet 65.19% top-1."""
    return build_model(
        functools.partial(resnet, ab_reactnet_block, (6, 8, 12, 6), False),
        AB,
        "ab_reactnet34",
        **locals(),
    )


@documented(AB, "ab_biresnet18")
def ABBiResNet18(
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
    """A&B Bi-ResNet-18 (Ma et al., CVPR 2024): ImageNet 60.38%, CIFAR-10 90.09% top-1."""
    return build_model(
        functools.partial(resnet, bi_block, (4, 4, 4, 4), True), AB, "ab_biresnet18", **locals()
    )


@documented(AB, "ab_xnornet18")
def ABXnorNet18(
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
    """A&B XNOR-Net-18 (Ma et al., CVPR 2024): CIFAR-10 89.94% top-1."""
    return build_model(
        functools.partial(resnet, xnor_block, (4, 4, 4, 4), True), AB, "ab_xnornet18", **locals()
    )


@documented(BN_FREE, "bnfree_reactnet18")
def BNFreeReActNet18(
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
    """BN-Free ReActNet-18 baseline (Chen et al., "BNN - BN = ?", CVPRW 2021)."""
    return build_model(
        functools.partial(resnet, bnfree_reactnet_block, (4, 4, 4, 4), False),
        BN_FREE,
        "bnfree_reactnet18",
        **locals(),
    )


@documented(BN, "bn_reactnet18")
def BNReActNet18(
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
    """BN ReActNet-18 baseline, the paper's BN column (BNN_NoBN's `Qa_/Qaw_reactnet_18_bn`):
    BatchNorm after every binary conv, ReActNet's approx-sign and `HardBinaryConv`.
    CIFAR-10 92.31%, CIFAR-100 68.78% top-1 in the paper."""
    return build_model(
        functools.partial(resnet, bn_reactnet_block, (4, 4, 4, 4), False, first_layers=bn_stem),
        BN,
        "bn_reactnet18",
        alpha=None,
        **locals(),
    )
