"""The A&B BNN networks and the paper's baselines (BN-Free and BN) as Keras models.

```python
from larq_abbnn.zoo import ABReActNetA

model = ABReActNetA(num_classes=1000)        # ImageNet stem, step 2 (binary weights)
step1 = ABReActNetA(step=1)                  # binary activations, real weights
```
Every model function takes the same keyword-only arguments (larq-zoo's `input_shape`,
`input_tensor`, `num_classes`, `include_top`, `weights`, plus the paper's `stem`, `step`,
`alpha`, `padding` and `width_multiplier`).
"""

from abbnn.recipe import MODEL_NAMES
from larq_abbnn.zoo import model
from larq_abbnn.zoo.reactnet_a import ABReActNetA, BNFreeReActNetA, BNReActNetA
from larq_abbnn.zoo.resnet import (
    ABBiResNet18,
    ABReActNet18,
    ABReActNet34,
    ABXnorNet18,
    BNFreeReActNet18,
    BNReActNet18,
)
from larq_abbnn.zoo.steps import binary_conv_count, to_step


def _in_recipe_order(*functions) -> dict:
    """`abbnn.recipe.MODEL_NAMES` (the CLI's choices) -> the function of that reference name:
    a name without a function, or a function without a name, fails the import."""
    found = {function.reference_name: function for function in functions}
    if set(found) != set(MODEL_NAMES):
        raise ImportError(
            f"abbnn.recipe.MODEL_NAMES and the zoo's functions differ: "
            f"{sorted(set(found) ^ set(MODEL_NAMES))}"
        )
    return {name: found[name] for name in MODEL_NAMES}


#: Zoo models by the names of the reference checkpoints (`reference_state_dicts.json`).
MODELS = _in_recipe_order(
    ABReActNet18,
    ABReActNet34,
    ABReActNetA,
    ABBiResNet18,
    ABXnorNet18,
    BNFreeReActNet18,
    BNFreeReActNetA,
    BNReActNet18,
    BNReActNetA,
)

#: Layer names inside a block start with this pattern (the reference's module paths,
#: `layer2.0.` in ResNets, `feature.3.` in ReActNet-A); the audit groups lines by it.
BLOCK_PREFIX = r"(layer\d+\.\d+|feature\.\d+)\."


def get(name: str):
    """A zoo model function by its reference name, e.g. `get("ab_reactneta")`."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown zoo model {name!r}; available: {', '.join(sorted(MODELS))}"
        ) from None


def estimated_parameters(name: str, width_multiplier: float) -> float:
    """Parameters of zoo model `name` at `width_multiplier`, estimated without building
    it at that width (e.g. to refuse one that cannot fit in memory)."""
    return model.estimated_parameters(get(name), width_multiplier)


__all__ = [
    "ABReActNet18",
    "ABReActNet34",
    "ABReActNetA",
    "ABBiResNet18",
    "ABXnorNet18",
    "BNFreeReActNet18",
    "BNFreeReActNetA",
    "BNReActNet18",
    "BNReActNetA",
    "BLOCK_PREFIX",
    "MODELS",
    "estimated_parameters",
    "get",
    "to_step",
    "binary_conv_count",
]
