"""The paper's three network families as objects: A&B, and its BN-Free and BN baselines.

A family fixes what its blocks are built from (the residual-branch alpha, the sign on a
binary conv's input, the binary conv's class) and the paper's rule for counting its
multiplications: in an A&B network a product by a power of two is a shift, while the
paper counts the same products as multiplications in its baselines. The zoo builds
blocks from a family, `fold` holds an A&B model to its rule, and the audit counts by it.
The two detectors below read the family back, one from a Keras model, one from what a
TFLite file's ops multiply by. A new baseline is one more `Family` here.

References:
    - [A&B BNN](https://arxiv.org/abs/2403.03739), section 3 and Table 1 (the MO column)
    - [BNN - BN = ?](https://arxiv.org/abs/2104.08215): the BN-Free baseline
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from abbnn.recipe import FAMILY_NAMES
from larq_abbnn import layers

__all__ = ["AB", "BN", "BN_FREE", "FAMILIES", "Family", "get", "is_power_of_two", "of_keras"]


@dataclass(frozen=True)
class Family:
    """One family of networks: how its blocks are built and how its products count."""

    #: short name, as in the zoo's model names (`ab_reactnet18`, `bnfree_reactneta`)
    name: str
    #: the paper's name for it
    title: str
    #: residual-branch scale (None: BatchNorm instead of alpha and beta)
    alpha: float | None
    #: Larq quantizer alias binarizing a binary conv's input
    sign: str
    #: the class of its binary convs
    conv: type
    #: whether a product by a power of two is a shift (A&B) or a multiplication
    shifts: bool

    def product(self, power_of_two: bool) -> str:
        """The audit's kind for a product by a constant: `"shift"` or `"full_precision"`."""
        return "shift" if power_of_two and self.shifts else "full_precision"

    def binary_conv(
        self,
        filters: int,
        kernel_size: int,
        strides: int,
        *,
        name: str,
        binary_weights: bool,
        binary_input: bool = True,
        **padding,
    ) -> tf.keras.layers.Layer:
        """A binary conv of this family: binary weights in step 2 (`binary_weights`), the
        family's sign on its input unless `binary_input=False` (a binary-weight conv on a
        real input, the shortcut's)."""
        return self.conv(
            filters,
            kernel_size,
            strides,
            binary_weights=binary_weights,
            input_quantizer=self.sign if binary_input else None,
            name=name,
            **padding,
        )


#: The paper's networks: alpha 2**-2 (a shift), sigmoid-gradient sign, ScaledStd convs.
AB = Family("ab", "A&B", 0.25, "sigmoid_sign", layers.BinaryScaledStdConv2D, shifts=True)
#: BNN_NoBN's BN-Free baseline: alpha 0.2 and real betas, ReActNet's approx-sign.
BN_FREE = Family(
    "bnfree", "BN-Free", 0.2, "approx_sign", layers.BinaryScaledStdConv2D, shifts=False
)
#: BNN_NoBN's `_bn` models: ReActNet's `HardBinaryConv`, a BatchNorm after each.
BN = Family("bn", "BN", None, "approx_sign", layers.BinaryConv2D, shifts=False)

#: Families by name, in `abbnn.recipe.FAMILY_NAMES`'s order (the CLI's choices).
FAMILIES = {family.name: family for family in (AB, BN_FREE, BN)}
if tuple(FAMILIES) != FAMILY_NAMES:
    raise ImportError(f"abbnn.recipe.FAMILY_NAMES {FAMILY_NAMES} names other families")


def get(family: str | Family) -> Family:
    """A family by name (`"ab"`, `"bnfree"`, `"bn"`), or the family itself."""
    if isinstance(family, Family):
        return family
    try:
        return FAMILIES[family]
    except (KeyError, TypeError):
        raise ValueError(
            f"family must be one of {', '.join(map(repr, FAMILIES))}, got {family!r}"
        ) from None


def is_power_of_two(values) -> bool:
    """Whether every value is +-2**k: a product by it is a shift (zero is not)."""
    values = np.abs(np.asarray(values, np.float64)).ravel()
    if values.size == 0 or np.any(values == 0):
        return False
    mantissa, _ = np.frexp(values)
    return bool(np.all(mantissa == 0.5))


# -- the detectors, one per dialect --------------------------------------------------------


def of_keras(model: tf.keras.Model) -> Family:
    """A mask layer or a Q-PReLU: A&B; else a BatchNorm: BN; else BN-Free."""
    if any(isinstance(layer, (layers.MaskLayer, layers.QuantRPReLU)) for layer in model.layers):
        return AB
    if any(isinstance(layer, tf.keras.layers.BatchNormalization) for layer in model.layers):
        return BN
    return BN_FREE


def of_tflite(products: Iterable, block_slopes: Iterable) -> Family:
    """The family of a TFLite graph, from the constants its `MUL` ops multiply by and the
    slopes of the `PRELU`s inside its blocks.

    BN-Free graphs multiply block inputs by betas that are not powers of two; BN graphs
    have no `MUL` left (fold merges each BatchNorm into its conv), but most of their
    in-block PReLU slopes are not powers of two, where an A&B graph's Q-PReLU slopes all
    are (one stray real PReLU inside an A&B block stays A&B, and counts as full precision).
    """
    if any(not is_power_of_two(constant) for constant in products):
        return BN_FREE
    real = shifts = 0
    for slopes in block_slopes:
        if is_power_of_two(slopes):
            shifts += 1
        else:
            real += 1
    return BN if real > shifts else AB
