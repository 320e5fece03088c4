"""Hyperparameter search with keras-tuner over the recipe's knobs.

Searched: learning rate, the A&B alpha (2**-2 or 2**-3, the paper's ablation), the
initial Q-PReLU exponent, and step-1 weight decay. The objective is validation accuracy.
keras-tuner keeps every trial in `directory/project`, so the same call resumes a search;
its distributed mode (a chief oracle and workers, configured by the
`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` environment
variables) runs the same code on several machines.
"""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import tensorflow as tf

from larq_abbnn import layers, zoo
from larq_abbnn.data import Data
from larq_abbnn.training.run import compile_for_step


class RecipeHyperModel(kt.HyperModel):
    """A zoo model at one step, compiled with the recipe and a trial's hyperparameters."""

    def __init__(
        self,
        model_name: str,
        data: Data,
        *,
        step: int = 1,
        epochs: int,
        steps_per_epoch: int,
        width_multiplier: float = 1.0,
        padding: str = "reference",
        alpha: float | None = None,
        activation: str | None = None,
    ):
        """`alpha` fixes the residual scale (otherwise A&B trials search 2^-2 and 2^-3);
        `activation="leaky"` runs the search on the slope ablation."""
        super().__init__(name=model_name)
        self.model_name, self.data, self.step = model_name, data, step
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.width_multiplier, self.padding = width_multiplier, padding
        self.alpha, self.activation = alpha, activation

    def build(self, hp: kt.HyperParameters) -> tf.keras.Model:
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        weight_decay = 0.0
        if self.step == 1:
            weight_decay = hp.Choice("weight_decay", [0.0, 5e-6, 5e-5], default=5e-6)
        kwargs = {} if self.activation is None else {"activation": self.activation}
        is_ab = self.model_name.startswith("ab_")
        if self.alpha is not None:
            kwargs["alpha"] = self.alpha
        elif is_ab:
            kwargs["alpha"] = 2.0 ** hp.Choice("alpha_exponent", [-2, -3], default=-2)
        model = zoo.get(self.model_name)(
            input_shape=self.data.input_shape,
            num_classes=self.data.num_classes,
            stem=self.data.stem,
            step=self.step,
            padding=self.padding,
            width_multiplier=self.width_multiplier,
            **kwargs,
        )
        if is_ab:
            exponent = hp.Int("prelu_exponent", -5, -1, default=-3)
            for layer in model.layers:
                if isinstance(layer, layers.QuantRPReLU):
                    layer.exponent.assign(np.full(layer.exponent.shape, float(exponent)))
        return compile_for_step(
            model,
            step=self.step,
            stem=self.data.stem,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
        )


def search(
    hypermodel: RecipeHyperModel,
    *,
    trials: int,
    directory: str,
    project_name: str = "abbnn",
    validation_steps: int | None = None,
    seed: int = 2023,
    verbose: int | str = "auto",
) -> kt.Tuner:
    """Run (or resume) a random search; returns the tuner (`get_best_hyperparameters`)."""
    tuner = kt.RandomSearch(
        hypermodel,
        objective=kt.Objective("val_accuracy", direction="max"),
        max_trials=trials,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=False,
    )
    data = hypermodel.data
    tuner.search(
        data.train.repeat(),
        validation_data=data.validation,
        epochs=hypermodel.epochs,
        steps_per_epoch=hypermodel.steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=[tf.keras.callbacks.TerminateOnNaN()],
        verbose=verbose,
    )
    return tuner
