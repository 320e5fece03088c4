"""ResNet-family A&B BNNs (ReActNet-18/34, Bi-ResNet-18, XNOR-Net-18) and the BN-Free
ReActNet-18 baseline.

Layer names are the reference PyTorch module paths (`layer2.0.conv1`, `fc`, ...), so a
summary reads like the paper's Figure 1 and every checkpoint key names its layer.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.zoo import common

WIDTHS = (64, 128, 256, 512)


def stem(x: tf.Tensor, cfg: common.Config, prelu: bool = False) -> tf.Tensor:
    """ScaledStd conv (CIFAR: 3x3/1; ImageNet: 7x7/2 then 3x3/2 max-pool)."""
    if cfg.stem == "cifar":
        x = layers.ScaledStdConv2D(cfg.width(64), 3, 1, name="conv1", **cfg.conv_padding(False))(x)
    else:
        x = layers.ScaledStdConv2D(cfg.width(64), 7, 2, name="conv1", **cfg.conv_padding(False))(x)
    if prelu:
        x = common.prelu("prelu1")(x)
    if cfg.stem == "imagenet":
        x = cfg.max_pool("maxpool")(x)
    return x


def _pooled_binary_shortcut(x, filters, stride, cfg, name):
    """avgpool 2x2 then a binary-weight 1x1 conv on the real-valued input (no sign)."""
    common.check_poolable(x, name)
    x = tf.keras.layers.AveragePooling2D(2, stride, name=f"{name}.downsample.0")(x)
    return cfg.binary_conv(filters, 1, 1, f"{name}.downsample.1", input_quantizer=None)(x)


def _rprelu_tail(x, name, prelu_layer):
    x = layers.LearnableBias(name=f"{name}.move1")(x)
    x = prelu_layer(x)
    return layers.LearnableBias(name=f"{name}.move2")(x)


def ab_reactnet_block(x, filters, stride, alpha, beta, cfg, name):
    """A&B ReActNet block: sign(beta*(x + b0/beta)) -> binconv3x3; alpha*y + r; RPReLU."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.LearnableBias(divisor=beta, name=f"{name}.move0")(x)
    h = layers.MaskLayer(beta, name=f"{name}.mask")(h)
    y = cfg.binary_conv(filters, 3, stride, f"{name}.conv1")(h)
    r = _pooled_binary_shortcut(x, filters, stride, cfg, name) if downsample else x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    x = tf.keras.layers.Add(name=f"{name}.add")([y, r])
    return _rprelu_tail(x, name, layers.QuantRPReLU(name=f"{name}.prelu"))


def bnfree_reactnet_block(x, filters, stride, alpha, beta, cfg, name):
    """BN-Free ReActNet block: beta*x (a real multiply) feeds the sign and the shortcut."""
    downsample = stride != 1 or x.shape[-1] != filters
    x_in = layers.Scale(beta, name=f"{name}.beta")(x)
    h = layers.LearnableBias(name=f"{name}.move0")(x_in)
    y = cfg.binary_conv(filters, 3, stride, f"{name}.binary_conv", input_quantizer="approx_sign")(h)
    r = _pooled_binary_shortcut(x_in, filters, stride, cfg, name) if downsample else x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    x = tf.keras.layers.Add(name=f"{name}.add")([y, r])
    return _rprelu_tail(x, name, common.prelu(f"{name}.prelu"))


def bi_block(x, filters, stride, alpha, beta, cfg, name):
    """A&B Bi-ResNet block: alpha*binconv3x3(sign(beta*x)) + r; full-precision shortcut."""
    downsample = stride != 1 or x.shape[-1] != filters
    h = layers.MaskLayer(beta, name=f"{name}.mask")(x)
    y = cfg.binary_conv(filters, 3, stride, f"{name}.conv1")(h)
    if downsample:
        common.check_poolable(x, name)
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
    y = cfg.binary_conv(filters, 3, stride, f"{name}.conv1")(h)
    if downsample:
        r = cfg.binary_conv(filters, 1, stride, f"{name}.downsample.0", input_quantizer=None)(x)
    else:
        r = x
    y = layers.Scale(alpha, name=f"{name}.alpha")(y)
    return tf.keras.layers.Add(name=f"{name}.add")([y, r])


def resnet(
    block: Callable,
    blocks_per_stage: Sequence[int],
    outer_prelu: bool = False,
    *,
    input_shape: tuple,
    cfg: common.Config,
    alpha: float,
    num_classes: int,
    include_top: bool,
    name: str,
) -> tf.keras.Model:
    strides = [1, 2, 2, 2]
    downsamples = [s != 1 or w != WIDTHS[0] for s, w in zip(strides, WIDTHS)]
    betas = common.resnet_betas(blocks_per_stage, downsamples, alpha)

    inputs = common.floatx_input(input_shape)
    x = stem(inputs, cfg, prelu=outer_prelu)
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
        x = common.prelu("prelu2")(x)
    outputs = common.head(x, num_classes, include_top, pool_name="avgpool")
    return tf.keras.Model(inputs, outputs, name=name)


@common.zoo_model(functools.partial(resnet, ab_reactnet_block, [4, 4, 4, 4]), "ab")
def ABReActNet18():
    """A&B ReActNet-18 (Ma et al., CVPR 2024): ImageNet 61.39%, CIFAR-10 92.30% top-1."""


@common.zoo_model(functools.partial(resnet, ab_reactnet_block, [6, 8, 12, 6]), "ab")
def ABReActNet34():
    """A&B ReActNet-34 (Ma et al., CVPR 2024): ImageNet 65.19% top-1."""


@common.zoo_model(functools.partial(resnet, bi_block, [4, 4, 4, 4], True), "ab")
def ABBiResNet18():
    """A&B Bi-ResNet-18 (Ma et al., CVPR 2024): ImageNet 60.38%, CIFAR-10 90.09% top-1."""


@common.zoo_model(functools.partial(resnet, xnor_block, [4, 4, 4, 4], True), "ab")
def ABXnorNet18():
    """A&B XNOR-Net-18 (Ma et al., CVPR 2024): CIFAR-10 89.94% top-1."""


@common.zoo_model(functools.partial(resnet, bnfree_reactnet_block, [4, 4, 4, 4]), "bnfree")
def BNFreeReActNet18():
    """BN-Free ReActNet-18 baseline (Chen et al., "BNN - BN = ?", CVPRW 2021)."""
