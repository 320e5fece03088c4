"""Hyperparameter search with keras-tuner over the recipe's knobs.

Searched: learning rate, the A&B alpha (2**-2 or 2**-3, the paper's ablation), the
initial Q-PReLU exponent, and step-1 weight decay. The objective is validation accuracy.
keras-tuner keeps every trial in `directory/project`, so the same call resumes a search;
its distributed mode (a chief oracle and workers, configured by the
`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` environment
variables) runs the same code on several machines.

The search is keras-tuner's model-agnostic `BaseTuner` with its random-search oracle, not
its `Tuner`: on TensorFlow 2.16+ the models are Keras 2 (`tf_keras`, which Larq needs),
while keras-tuner 1.4.8's `Tuner` accepts only models of the `keras` package it imports,
Keras 3 there (`isinstance(model, keras.models.Model)` in `Tuner._try_build`, and its
History checks likewise). `RecipeTuner` trains a trial itself and reports plain numbers,
so the oracle, the trial folders, resuming and the distributed mode stay keras-tuner's.
"""

from __future__ import annotations

import os

import keras_tuner as kt
import tensorflow as tf

from larq_abbnn import layers, zoo
from larq_abbnn.data import Data
from larq_abbnn.layers import set_prelu_exponent
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
        prelu_exponent: int | None = None,
        power_of_two_scales: bool | None = None,
    ):
        """`alpha` fixes the residual scale (otherwise A&B trials search 2^-2 and 2^-3),
        `prelu_exponent` the initial Q-PReLU slope exponent (otherwise searched from -5 to
        -1); `activation="leaky"` runs the search on the slope ablation,
        `power_of_two_scales=True` on power-of-two binary-conv scales."""
        super().__init__(name=model_name)
        self.model_name, self.data, self.step = model_name, data, step
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self.width_multiplier, self.padding = width_multiplier, padding
        self.alpha, self.activation = alpha, activation
        self.prelu_exponent = prelu_exponent
        self.power_of_two_scales = power_of_two_scales

    def build(self, hp: kt.HyperParameters) -> tf.keras.Model:
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        weight_decay = 0.0
        if self.step == 1:
            weight_decay = hp.Choice("weight_decay", [0.0, 5e-6, 5e-5], default=5e-6)
        kwargs = {} if self.activation is None else {"activation": self.activation}
        if self.power_of_two_scales:
            kwargs["power_of_two_scales"] = True
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
        if self.prelu_exponent is not None:
            set_prelu_exponent(model, self.prelu_exponent)
        elif any(isinstance(layer, layers.QuantRPReLU) for layer in model.layers):
            # the same value `abbnn train --prelu-exponent` takes
            set_prelu_exponent(model, hp.Int("prelu_exponent", -5, -1, default=-3))
        return compile_for_step(
            model,
            step=self.step,
            stem=self.data.stem,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
        )


class RecipeTuner(kt.engine.base_tuner.BaseTuner):
    """Trains each trial's model with `fit` and reports its best epoch to the oracle.

    A trial keeps the weights of its best epoch (by the objective) in its folder,
    `best.weights.h5`, which `load_model` (and so `get_best_models`) reads back.
    """

    WEIGHTS = "best.weights.h5"

    def run_trial(self, trial, train, *, callbacks=(), **fit_kwargs) -> dict[str, float]:
        """`fit(train, **fit_kwargs)` on a fresh model; the best epoch's metrics."""
        tf.keras.backend.clear_session()  # each trial's model alone in the graph
        objective = self.oracle.objective
        model = self.hypermodel.build(trial.hyperparameters)
        best = tf.keras.callbacks.ModelCheckpoint(
            os.path.join(self.get_trial_dir(trial.trial_id), self.WEIGHTS),
            monitor=objective.name,
            mode=objective.direction,
            save_best_only=True,
            save_weights_only=True,
        )
        history = model.fit(train, callbacks=[*callbacks, best], **fit_kwargs).history
        if objective.name not in history:
            raise kt.errors.FailedTrialError(
                f"the trial's fit logged no {objective.name!r} (logged: {sorted(history)})"
            )
        scores = history[objective.name]
        pick = max if objective.direction == "max" else min
        epoch = scores.index(pick(scores))
        return {name: float(values[epoch]) for name, values in history.items()}

    def load_model(self, trial) -> tf.keras.Model:
        model = self.hypermodel.build(trial.hyperparameters)
        model.load_weights(os.path.join(self.get_trial_dir(trial.trial_id), self.WEIGHTS))
        return model


def is_worker() -> bool:
    """Whether this process is a worker of keras-tuner's distributed mode (the chief holds
    the oracle, and so the results: keras-tuner's rule, `KERASTUNER_TUNER_ID` with "chief")."""
    return "KERASTUNER_ORACLE_IP" in os.environ and "chief" not in os.environ.get(
        "KERASTUNER_TUNER_ID", ""
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
) -> RecipeTuner:
    """Run (or resume) a random search; returns the tuner (`get_best_hyperparameters`).

    In keras-tuner's distributed mode the chief serves the oracle until the workers have
    run every trial, and each worker trains trials."""
    objective = kt.Objective("val_accuracy", direction="max")
    tuner = RecipeTuner(
        kt.oracles.RandomSearchOracle(objective=objective, max_trials=trials, seed=seed),
        hypermodel,
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
