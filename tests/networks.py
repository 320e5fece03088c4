"""Small networks made of the zoo's own blocks, for the tests whose claim is a mechanism
(fold, the converters, verify, the audit, the command line) rather than a whole network.

A whole ReActNet-18 is 16 binary convs: about 15 s through LCE's converter on 2 cores,
and as long again for `verify`. `small()` is, by default, its layout with one block per
stage (4 binary convs; every block kind the stages use: plain, and strided with the pooled
shortcut), at a third of the cost. Whole zoo networks stay where the whole network is the
claim: each family once through each format (test_conversion, test_qonnx), the authors'
replays, one command-line run per command.
"""

from __future__ import annotations

import functools
import inspect

import tensorflow as tf

from larq_abbnn import layers
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.families import AB
from larq_abbnn.zoo import config, parts, reactnet_a, resnet
from larq_abbnn.zoo.model import build_model

#: ReActNet-18's stages, one block each: (channel growth, stride)
STAGES = ((1, 1), (2, 2), (2, 2), (2, 2))


def small(
    *,
    family: str = "ab",
    kind: str = "resnet",
    blocks=tuple((growth, stride, 1.0, 1.0) for growth, stride in STAGES),
    stem_width: int = 16,
    input_size: int = 32,
    alpha: float = 0.25,
    step: int = 2,
    padding: str = "reference",
    power_of_two_scales: bool = False,
    num_classes: int = 10,
    seed: int | None = 0,
    name: str | None = None,
) -> tf.keras.Model:
    """A functional network from zoo blocks (by default ReActNet-18's stages with one A&B
    block each, 32 px, 4 binary convs): the CIFAR stem conv, `blocks` (each: channel
    growth, stride, beta1, beta2), the zoo's head. `family` "ab" or "bnfree", `kind`
    "resnet" (ReActNet-18's blocks) or "reactnet_a"; trained-looking weights from `seed`
    (None: the initializers')."""
    cfg = config.Config(
        stem="cifar", step=step, padding=padding, power_of_two_scales=power_of_two_scales
    )
    inputs = parts.model_input((input_size, input_size, 3), None)[0]
    stem = layers.ScaledStdConv2D(stem_width, 3, 1, name="conv1", **cfg.conv_padding(False))
    x = stem(inputs)
    for i, (growth, stride, beta1, beta2) in enumerate(blocks):
        block_name, width = f"layer1.{i}", x.shape[-1] * growth
        if kind == "resnet":
            block = resnet.ab_reactnet_block if family == "ab" else resnet.bnfree_reactnet_block
            x = block(x, width, stride, alpha, beta1, cfg, block_name)
        else:
            block = reactnet_a.ab_block if family == "ab" else reactnet_a.bnfree_block
            x = block(x, width, stride, alpha, (beta1, beta2), cfg, block_name)
    outputs = parts.head(x, num_classes, True, pool_name="avgpool")
    model = tf.keras.Model(inputs, outputs, name=name or f"small_{family}_{kind}")
    if seed is not None:
        trained_looking(model, seed=seed)
    return model


@functools.wraps(resnet.ABReActNet18)
def ab_reactnet18_one_block_per_stage(**options) -> tf.keras.Model:
    """`zoo.ABReActNet18(**options)` with one block per stage instead of four: the same
    signature, options, stems and steps, 4 binary convs instead of 16 (`tests/small_cli.py`
    runs the command line with it)."""
    bound = inspect.signature(resnet.ABReActNet18).bind(**options)
    bound.apply_defaults()
    network = functools.partial(resnet.resnet, resnet.ab_reactnet_block, (1, 1, 1, 1), False)
    return build_model(network, AB, "ab_reactnet18", **bound.arguments)
