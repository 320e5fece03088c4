"""The paper's training recipe for Keras: optimizer, distillation, resumable two-step runs.

```python
from larq_abbnn import data, training, zoo

d = data.load("cifar10")
model = zoo.ABReActNet18(input_shape=d.input_shape, num_classes=d.num_classes, step=1)
fit_model = training.compile_for_step(model, step=1, stem=d.stem, epochs=256,
                                      steps_per_epoch=len(d.train))
fit_model.fit(d.train, validation_data=d.validation, epochs=256)
```
`training.train(...)` (and `abbnn train`) runs both steps, or one (`steps=(1,)`), in a
resumable run folder; `training.two_step(...)` is its two-step name.
"""

from larq_abbnn.layers import set_prelu_exponent  # beside Q-PReLU; re-exported for the CLI
from larq_abbnn.training.distill import Distiller
from larq_abbnn.training.optimizer import (
    AGCAdam,
    LinearDecay,
    adaptive_clip,
    linear_decay,
    unitwise_norm,
)
from larq_abbnn.training.parameters import parameter_groups
from larq_abbnn.training.run import (
    Recipe,
    TrainingError,
    compile_for_step,
    run_config,
    train,
    train_recipe_step,
    two_step,
)
from larq_abbnn.training.run_folder import RunFolder, RunMismatch, StepResult, read_history

__all__ = [
    "AGCAdam",
    "Distiller",
    "LinearDecay",
    "RunFolder",
    "RunMismatch",
    "StepResult",
    "TrainingError",
    "adaptive_clip",
    "compile_for_step",
    "linear_decay",
    "parameter_groups",
    "read_history",
    "Recipe",
    "run_config",
    "set_prelu_exponent",
    "train",
    "train_recipe_step",
    "two_step",
    "unitwise_norm",
]
