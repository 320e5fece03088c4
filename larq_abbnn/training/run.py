"""Training runs: one step of the paper's recipe, or both, in a resumable run folder.

The folder's layout is `run_folder`'s (`run.json`, `step1/`, `step2/`). Running the same
command again resumes: finished steps are skipped, an interrupted one continues from its
last completed epoch with the optimizer state it had (Keras's BackupAndRestore), and a
rerun with other options is refused before anything is touched.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable

import tensorflow as tf

from abbnn.inputs import require
from abbnn.recipe import CLIP_FACTOR, LEARNING_RATE, STEP1_WEIGHT_DECAY
from larq_abbnn.data import Data
from larq_abbnn.saved_models import load_keras_file
from larq_abbnn.training.callbacks import History, ModelFile, ResumeNote
from larq_abbnn.training.distill import Distiller
from larq_abbnn.training.metrics import top_k_accuracy
from larq_abbnn.training.optimizer import AGCAdam, linear_decay
from larq_abbnn.training.parameters import parameter_groups
from larq_abbnn.training.run_folder import (
    RunFolder,
    StepFolder,
    StepResult,
    finished_step,
    read_history,
    write_finished_step,
)
from larq_abbnn.zoo.weights import load_weights


class TrainingError(RuntimeError):
    """A run that cannot go on (NaN loss, a missing checkpoint); the message says why."""


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


#: What each step of the recipe trains (spec section 4), for the messages of a run.
STEP_NAMES = {1: "binary activations, real weights", 2: "binary activations and weights"}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The recipe's options a step trains with; the defaults are the reference's (spec
    section 4). `run.json` records them, and a rerun must give the same."""

    #: Adam's initial learning rate, decayed linearly to 0 over the step
    learning_rate: float = LEARNING_RATE
    #: L2 added to the gradient; None: 5e-6 in step 1, 0 in step 2
    weight_decay: float | None = None
    #: adaptive gradient clipping factor; None: by stem (0.001 CIFAR, 0.02 ImageNet)
    clip_factor: float | None = None
    #: path of a saved Keras classifier to distill from
    teacher: str | None = None
    #: batches per epoch over the repeated data; None: one pass over the training data
    steps_per_epoch: int | None = None
    #: validation batches per epoch; None: the whole validation set
    validation_steps: int | None = None


def train_recipe_step(
    build_model: Callable[[], tf.keras.Model],
    data: Data,
    *,
    step: int,
    epochs: int,
    folder: str,
    recipe: Recipe = Recipe(),
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    callbacks: list | None = None,
    of: int | None = None,
) -> StepResult:
    """Train one of the paper's two steps in `folder`, resuming it if it was interrupted.

    (A step of the recipe, many epochs long; not Keras's `Model.train_step`, one batch.)
    `build_model()` is called inside the strategy's scope and returns the Keras model at
    this step (with any initial weights loaded); `recipe` holds the recipe's options.
    Returns at once if `folder/done.json` exists. Unless `verbose` is 0 it says which
    step runs (`of`: how many the run has), whether it was skipped or resumed, and what
    it does after the last epoch.
    """
    say = print if verbose != 0 else (lambda *_: None)
    label = f"step {step}" + (f" of {of}" if of else "")
    finished = finished_step(folder)
    if finished is not None:
        say(
            f"{label} finished earlier: skipped (best val top-1 "
            f"{100 * finished.best_val_accuracy:.2f}% at epoch {finished.best_epoch}; {folder})"
        )
        return finished
    say(f"{label}: {STEP_NAMES[step]}; {epochs} epoch{'s' * (epochs != 1)}")
    os.makedirs(folder, exist_ok=True)
    strategy = strategy or tf.distribute.get_strategy()
    train, steps_per_epoch = _training_data(data, recipe.steps_per_epoch)
    with strategy.scope():
        trainable = compile_for_step(
            build_model(),
            step=step,
            stem=data.stem,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            learning_rate=recipe.learning_rate,
            weight_decay=recipe.weight_decay,
            clip_factor=recipe.clip_factor,
            teacher=_load_teacher(recipe.teacher) if recipe.teacher else None,
        )
    start = time.perf_counter()
    trainable.fit(
        train,
        validation_data=data.validation,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_steps=recipe.validation_steps,
        callbacks=[*_run_callbacks(folder), ResumeNote(label, epochs, say), *(callbacks or [])],
        verbose=verbose,
    )
    result = _finished(step, folder, epochs, wall_seconds=time.perf_counter() - start)
    say(
        f"{label} done: best val top-1 {100 * result.best_val_accuracy:.2f}% at epoch "
        f"{result.best_epoch} of {epochs}; {result.best_path}"
    )
    return result


def _finished(step: int, folder: str, epochs: int, wall_seconds: float) -> StepResult:
    """The step's result from its history, recorded in `done.json`, its backup gone."""
    history = read_history(StepFolder(folder).history)
    _check_finite(history, step=step, epochs=epochs, folder=folder)
    best_epoch, best_accuracy = _best_epoch(history)
    result = StepResult(
        step=step,
        folder=folder,
        epochs=epochs,
        best_val_accuracy=best_accuracy,
        best_epoch=best_epoch,
        wall_seconds=wall_seconds,
        history=history,
    )
    write_finished_step(result)
    StepFolder(folder).remove_backup()
    return result


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
    files = StepFolder(folder)
    return [
        tf.keras.callbacks.TerminateOnNaN(),
        History(files.history, append=True),
        tf.keras.callbacks.TensorBoard(files.logs, profile_batch=0),
        ModelFile(files.best, monitor="val_accuracy"),
        ModelFile(files.last),
        tf.keras.callbacks.BackupAndRestore(files.backup),
    ]


def _check_finite(history: dict, *, step: int, epochs: int, folder: str) -> None:
    """Raise `TrainingError` naming the epoch where the loss stopped being finite, and
    the last good model if one was saved."""
    losses = history.get("loss", [])
    good = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    if good < epochs:
        last = StepFolder(folder).last
        kept = (
            f"The last good model (epoch {good}) is {last}"
            if good and os.path.exists(last)
            else "No epoch finished with a finite loss, so no model was saved"
        )
        raise TrainingError(
            f"step {step} stopped at epoch {good + 1} of {epochs}: the loss became NaN or "
            f"infinite. {kept}; lower --lr or check the data."
        )


def _best_epoch(history: dict) -> tuple[int, float]:
    """The 1-based epoch of the best validation accuracy, and that accuracy."""
    accuracies = history.get("val_accuracy") or [math.nan]
    best_index = int(max(range(len(accuracies)), key=lambda i: accuracies[i]))
    return best_index + 1, accuracies[best_index]


def train(
    build_model: Callable[[int], tf.keras.Model],
    data: Data,
    *,
    steps: tuple[int, ...] = (1, 2),
    epochs: int | tuple[int, ...],
    folder: str,
    init_from: str | None = None,
    config: dict | None = None,
    names: dict[str, str] | None = None,
    recipe: Recipe = Recipe(),
    **options,
) -> tuple[StepResult, ...]:
    """The paper's recipe in `folder`: both steps (step 2 from step 1's best model), or
    one (`steps=(1,)` or `(2,)`). Returns each step's `StepResult`.

    `build_model(step)` returns the zoo model of that step. The first step starts from
    `init_from` (Keras weights or a paper checkpoint) where it is given. `epochs` is one
    count for every step or one per step. `recipe` and `options` (`strategy`, `verbose`,
    `callbacks`) go to `train_recipe_step`. The run is recorded in `folder/run.json`
    (what `abbnn report` reads): the dataset, epochs, steps and recipe options, the
    model's name, and `config` (e.g. the zoo options that built it; `names`: how an
    error calls its keys, e.g. "--lr"). A rerun resumes, after `RunFolder.check` has found
    it trains the same thing; `run.json` is written once the first model is built.
    """
    steps = tuple(steps)
    if steps not in ((1, 2), (1,), (2,)):
        raise ValueError(f"steps must be (1, 2), (1,) or (2,), got {steps}")
    counts = (epochs,) * len(steps) if isinstance(epochs, int) else tuple(epochs)
    if len(counts) != len(steps):
        raise ValueError(f"epochs {epochs} for steps {steps}: give one count or one per step")
    run = RunFolder(folder)
    recorded = {
        **run_config(data, epochs, steps=steps, init_from=init_from, recipe=recipe),
        **(config or {}),
    }
    run.check(recorded, names)  # before anything is touched
    results: list[StepResult] = []
    for step, step_epochs in zip(steps, counts):
        start_from = results[-1].best_path if results else init_from

        def build(step=step, start_from=start_from) -> tf.keras.Model:
            model = build_model(step)
            # recorded once a model is built: options the zoo refuses leave no run.json
            run.start({"model": model.name, **recorded}, names)
            if start_from:
                _load(model, start_from)
            return model

        results.append(
            train_recipe_step(
                build,
                data,
                step=step,
                epochs=step_epochs,
                folder=run.step_folder(step),
                of=len(steps) if len(steps) > 1 else None,
                recipe=recipe,
                **options,
            )
        )
    return tuple(results)


def two_step(build_model, data: Data, **options) -> tuple[StepResult, StepResult]:
    """`train(..., steps=(1, 2))`: both steps of the paper's recipe (the guides' name)."""
    return train(build_model, data, steps=(1, 2), **options)


def run_config(
    data: Data, epochs, *, steps=(1, 2), init_from: str | None = None, recipe: Recipe = Recipe()
) -> dict:
    """What `run.json` records of a run: the data it trains on and the recipe's options
    (those that change what is trained; see `RunFolder.start`)."""
    return {
        "dataset": data.name,
        "num_classes": data.num_classes,
        "image_size": data.image_size,
        "validation_split": data.validation_split,
        "validation_examples": data.validation_examples,
        "batch_size": data.batch_size,
        "epochs": epochs,
        "steps": list(steps),
        "init_from": init_from,
        **dataclasses.asdict(recipe),
    }


def _load(model: tf.keras.Model, path: str) -> None:
    require(path, "initial weights", TrainingError)
    load_weights(model, path)


def _load_teacher(path: str) -> tf.keras.Model:
    require(path, "teacher model", TrainingError)
    return load_keras_file(path)
