"""The A&B BNN networks (and their BN-Free baselines) as Keras models.

```python
from larq_abbnn.zoo import ABReActNetA

model = ABReActNetA(num_classes=1000)        # ImageNet stem, step 2 (binary weights)
step1 = ABReActNetA(step=1)                  # binary activations, real weights
```
"""

from larq_abbnn.zoo import common
from larq_abbnn.zoo.common import binary_conv_count, to_step, trained_looking
from larq_abbnn.zoo.reactnet_a import ABReActNetA, BNFreeReActNetA
from larq_abbnn.zoo.resnet import (
    ABBiResNet18,
    ABReActNet18,
    ABReActNet34,
    ABXnorNet18,
    BNFreeReActNet18,
)

#: Zoo models by the names of the reference checkpoints (`reference_state_dicts.json`).
MODELS = {
    common.snake_name(model.__name__): model
    for model in (
        ABReActNet18,
        ABReActNet34,
        ABReActNetA,
        ABBiResNet18,
        ABXnorNet18,
        BNFreeReActNet18,
        BNFreeReActNetA,
    )
}


def get(name: str):
    """A zoo model function by its reference name, e.g. `get("ab_reactneta")`."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown zoo model {name!r}; available: {', '.join(sorted(MODELS))}"
        ) from None


__all__ = [
    "ABReActNet18",
    "ABReActNet34",
    "ABReActNetA",
    "ABBiResNet18",
    "ABXnorNet18",
    "BNFreeReActNet18",
    "BNFreeReActNetA",
    "MODELS",
    "get",
    "to_step",
    "binary_conv_count",
    "trained_looking",
]
