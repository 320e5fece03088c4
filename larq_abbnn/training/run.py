"""Training runs: one step of the paper's recipe, or both, in a resumable run folder.

A run folder holds `step1/` and `step2/`, each with `best.keras` (best validation
accuracy), `last.keras`, `history.csv`, TensorBoard `logs/`, `backup/` (Keras's
BackupAndRestore, deleted when the step finishes) and `done.json` once it has. Running
the same command again resumes: finished steps are skipped, an interrupted one continues
from its last completed epoch with the optimizer state it had.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import tensorflow as tf

from abbnn.recipe import CLIP_FACTOR, LEARNING_RATE, STEP1_WEIGHT_DECAY
from larq_abbnn.data import Data
from larq_abbnn.files import write_json
from larq_abbnn.training.callbacks import ModelFile
from larq_abbnn.training.distill import Distiller
from larq_abbnn.training.metrics import top_k_accuracy
from larq_abbnn.training.optimizer import AGCAdam, linear_decay, parameter_groups
from larq_abbnn.zoo.weights import load_weights


class TrainingError(RuntimeError):
    """A run that cannot go on (NaN loss, a missing checkpoint); the message says why."""


@dataclass
class StepResult:
    """What one finished step left in its folder."""

    step: int
    folder: str
    epochs: int
    best_val_accuracy: float | None
    best_epoch: int | None
    wall_seconds: float
    history: dict = field(default_factory=dict)

    @property
    def best_path(self) -> str:
        return os.path.join(self.folder, "best.keras")

    @property
    def last_path(self) -> str:
        return os.path.join(self.folder, "last.keras")


def read_history(path: str) -> dict[str, list[float]]:
    """A CSVLogger file as columns; a row repeated by a resumed run counts once."""
    if not os.path.exists(path):
        return {}
    rows: dict[int, dict] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows[int(row["epoch"])] = row
    columns: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            columns.setdefault(key, []).append(
                float(value) if value not in ("", None) else math.nan
            )
    return columns


def compile_for_step(
    model: tf.keras.Model,
    *,
    step: int,
    stem: str,
    epochs: int,
    steps_per_epoch: int,
    learning_rate: float = LEARNING_RATE,
    weight_decay: float | None = None,
    clip_factor: float | None = None,
    teacher: tf.keras.Model | None = None,
) -> tf.keras.Model:
    """Compile `model` with the paper's optimizer and loss; returns the model to `fit`.

    Defaults are the reference's: weight decay 5e-6 in step 1 and none in step 2, AGC
    factor 0.001 (CIFAR stem) or 0.02 (ImageNet stem), linear decay over `epochs`. With
    a `teacher` the returned model is a `Distiller` (soft cross-entropy against the
    teacher's softmax); otherwise `model` itself with cross-entropy on the labels.
    """
    if weight_decay is None:
        weight_decay = STEP1_WEIGHT_DECAY if step == 1 else 0.0
    if clip_factor is None:
        clip_factor = CLIP_FACTOR[stem]
    optimizer = AGCAdam(
        linear_decay(learning_rate, epochs, steps_per_epoch),
        l2=weight_decay,
        clip_factor=clip_factor or None,
        groups=parameter_groups(model),
    )
    metrics = [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if model.output_shape[-1] > 5:
        metrics.append(top_k_accuracy(5))
    if teacher is None:
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        trainable = model
    else:
        loss = tf.keras.losses.CategoricalCrossentropy(from_logits=True)
        trainable = Distiller(model, teacher)
    trainable.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return trainable


def train_recipe_step(
    build_model: Callable[[], tf.keras.Model],
    data: Data,
    *,
    step: int,
    epochs: int,
    folder: str,
    learning_rate: float = LEARNING_RATE,
    weight_decay: float | None = None,
    clip_factor: float | None = None,
    teacher: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    verbose: int | str = "auto",
    callbacks: list | None = None,
) -> StepResult:
    """Train one of the paper's two steps in `folder`, resuming it if it was interrupted.

    (A step of the recipe, many epochs long; not Keras's `Model.train_step`, one batch.)
    `build_model()` is called inside the strategy's scope and returns the Keras model at
    this step (with any initial weights loaded). `teacher` is the path of a saved Keras
    classifier for distillation. Returns at once if `folder/done.json` exists.
    """
    finished = _finished(folder)
    if finished is not None:
        return finished
    os.makedirs(folder, exist_ok=True)
    strategy = strategy or tf.distribute.get_strategy()
    train, steps_per_epoch = _training_data(data, steps_per_epoch)
    with strategy.scope():
        trainable = compile_for_step(
            build_model(),
            step=step,
            stem=data.stem,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clip_factor=clip_factor,
            teacher=_load_teacher(teacher) if teacher else None,
        )
    start = time.perf_counter()
    trainable.fit(
        train,
        validation_data=data.validation,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps,
        callbacks=_run_callbacks(folder) + list(callbacks or []),
        verbose=verbose,
    )
    history = read_history(os.path.join(folder, "history.csv"))
    _check_finite(history, step=step, epochs=epochs, folder=folder)
    best_epoch, best_accuracy = _best_epoch(history)
    result = StepResult(
        step=step,
        folder=folder,
        epochs=epochs,
        best_val_accuracy=best_accuracy,
        best_epoch=best_epoch,
        wall_seconds=time.perf_counter() - start,
        history=history,
    )
    write_json(os.path.join(folder, "done.json"), asdict(result))
    # BackupAndRestore empties its folder at the end of training; the folder itself goes too.
    shutil.rmtree(os.path.join(folder, "backup"), ignore_errors=True)
    return result


def _finished(folder: str) -> StepResult | None:
    """The result of a step that already finished in `folder` (its `done.json`)."""
    done_path = os.path.join(folder, "done.json")
    if not os.path.exists(done_path):
        return None
    with open(done_path) as f:
        return StepResult(**json.load(f))


def _training_data(data: Data, steps_per_epoch: int | None) -> tuple[tf.data.Dataset, int]:
    """One pass per epoch by default; a fixed number of steps over the repeated data."""
    if steps_per_epoch is None:
        return data.train, max(1, math.ceil(data.train_examples / data.batch_size))
    return data.train.repeat(), steps_per_epoch


def _run_callbacks(folder: str) -> list[tf.keras.callbacks.Callback]:
    """History, TensorBoard, best and last models, and the resumable backup, in `folder`.

    The backup is written after the epoch's history row and files: a kill between the
    two repeats that epoch on the rerun (its row is logged twice; `read_history` keeps
    the last), where the opposite order would lose the row for good.
    """
    return [
        tf.keras.callbacks.TerminateOnNaN(),
        tf.keras.callbacks.CSVLogger(os.path.join(folder, "history.csv"), append=True),
        tf.keras.callbacks.TensorBoard(os.path.join(folder, "logs"), profile_batch=0),
        ModelFile(os.path.join(folder, "best.keras"), monitor="val_accuracy"),
        ModelFile(os.path.join(folder, "last.keras")),
        tf.keras.callbacks.BackupAndRestore(os.path.join(folder, "backup")),
    ]


def _check_finite(history: dict, *, step: int, epochs: int, folder: str) -> None:
    """Raise `TrainingError` naming the epoch where the loss stopped being finite."""
    losses = history.get("loss", [])
    good = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    if good < epochs:
        raise TrainingError(
            f"step {step} stopped at epoch {good + 1} of {epochs}: the loss became NaN or "
            f"infinite. The last good model (epoch {good}) is "
            f"{os.path.join(folder, 'last.keras')}; lower --lr or check the data."
        )


def _best_epoch(history: dict) -> tuple[int, float]:
    """The 1-based epoch of the best validation accuracy, and that accuracy."""
    accuracies = history.get("val_accuracy") or [math.nan]
    best_index = int(max(range(len(accuracies)), key=lambda i: accuracies[i]))
    return best_index + 1, accuracies[best_index]


def two_step(
    build_model: Callable[[int], tf.keras.Model],
    data: Data,
    *,
    epochs: int | tuple[int, int],
    folder: str,
    init_from: str | None = None,
    **options,
) -> tuple[StepResult, StepResult]:
    """The paper's recipe: step 1, then step 2 from step 1's best model.

    `build_model(step)` returns the zoo model of that step; `init_from` (Keras weights or
    a paper checkpoint) initialises step 1. `options` go to `train_recipe_step`.
    """
    epochs1, epochs2 = (epochs, epochs) if isinstance(epochs, int) else epochs

    def step1():
        model = build_model(1)
        if init_from:
            _load(model, init_from)
        return model

    first = train_recipe_step(
        step1, data, step=1, epochs=epochs1, folder=os.path.join(folder, "step1"), **options
    )

    def step2():
        model = build_model(2)
        _load(model, first.best_path)
        return model

    second = train_recipe_step(
        step2, data, step=2, epochs=epochs2, folder=os.path.join(folder, "step2"), **options
    )
    return first, second


def _load(model: tf.keras.Model, path: str) -> None:
    if not os.path.exists(path):
        raise TrainingError(f"initial weights not found: {path}")
    load_weights(model, path)


def _load_teacher(path: str) -> tf.keras.Model:
    if not os.path.exists(path):
        raise TrainingError(f"teacher model not found: {path}")
    import larq_abbnn.layers  # noqa: F401  (registers the custom objects)

    return tf.keras.models.load_model(path, compile=False)
