"""The paper's recipe and the choices it offers, as plain Python: one source for the
library (`larq_abbnn.training`, `larq_abbnn.zoo`, `larq_abbnn.data`), the `abbnn`
command line and the recipe table of docs/training.md (a test keeps the table equal to these).

This module imports nothing, so `abbnn --help` shows these defaults without loading
TensorFlow (about 4 s). Values are the reference's (spec section 4) unless noted.
"""

from __future__ import annotations

# -- training (spec section 4) -------------------------------------------------------------
#: Adam's initial learning rate, decayed linearly to 0 over the step's epochs.
LEARNING_RATE = 1e-3
#: Epochs per step (each of the two steps).
EPOCHS = 256
#: Images per batch (the reference's CIFAR and ImageNet batch size).
BATCH_SIZE = 256
#: The reference notebooks' seed.
SEED = 2023
#: L2 added to the gradient in step 1; step 2 trains without it.
STEP1_WEIGHT_DECAY = 5e-6
#: Adaptive gradient clipping factor per stem.
CLIP_FACTOR = {"cifar": 0.001, "imagenet": 0.02}

# -- networks ------------------------------------------------------------------------------
#: Zoo model names: the reference checkpoints' names (`larq_abbnn.zoo.MODELS` has these keys).
MODEL_NAMES = (
    "ab_biresnet18",
    "ab_reactnet18",
    "ab_reactnet34",
    "ab_reactneta",
    "ab_xnornet18",
    "bnfree_reactnet18",
    "bnfree_reactneta",
    "bn_reactnet18",
    "bn_reactneta",
)
#: The network families (`larq_abbnn.families`): the paper's A&B and its two baselines.
FAMILY_NAMES = ("ab", "bnfree", "bn")
#: First layers: ImageNet's downsampling stem or CIFAR's full-resolution one.
STEMS = ("imagenet", "cifar")
#: "reference": PyTorch's symmetric zero padding (the paper's checkpoints need it);
#: "same": TF's; "one": TF's with binary inputs padded with +1 (LCE's fastest bconv).
PADDINGS = ("reference", "same", "one")
#: The A&B ReActNets' activation: the paper's Q-PReLU (slopes learned as powers of two),
#: or its ablation "leaky", a fixed-slope leaky ReLU of 2^-3 (the authors' commented-out
#: `nn.LeakyReLU(0.125)`; ImageNet ReActNet-18 step 2: 60.25% vs 61.39%)
ACTIVATIONS = ("qprelu", "leaky")
#: The ablation's fixed slope
LEAKY_SLOPE = 2.0**-3
#: Images up to this many pixels on their longer side get the CIFAR stem and transforms.
SMALL_IMAGE = 64


def stem_for(height: int | None, width: int | None) -> str:
    """The stem for an input size: `"cifar"` up to `SMALL_IMAGE` px, else `"imagenet"`.

    The one rule for the zoo's default stem and the data pipeline's transforms.
    """
    sides = [side for side in (height, width) if side is not None]
    return "cifar" if sides and max(sides) <= SMALL_IMAGE else "imagenet"


#: The paper's datasets: name -> (tfds name, classes, stem, image size, evaluation split).
#: `larq_abbnn.data` loads them by these tfds names; the checkpoints were trained on them.
DATASETS = {
    "cifar10": ("cifar10", 10, "cifar", 32, "test"),
    "cifar100": ("cifar100", 100, "cifar", 32, "test"),
    "imagenet": ("imagenet2012", 1000, "imagenet", 224, "validation"),
}
#: dataset -> (stem, classes, input size) of the paper's released checkpoints
CHECKPOINT_DATASETS = {
    name: (stem, classes, size) for name, (_, classes, stem, size, _) in DATASETS.items()
}

# -- deployment ----------------------------------------------------------------------------
#: LCE interpreter kernels for `LceBconv2d` (`larq_abbnn.analysis.kernels` gives their options).
KERNEL_NAMES = ("bgemm", "indirect_bgemm", "reference")
#: tf.distribute strategies `abbnn train` can create.
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
