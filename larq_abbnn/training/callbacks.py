"""Callbacks the training runs add to Keras's own (CSVLogger, TensorBoard, BackupAndRestore)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile

import tensorflow as tf

from larq_abbnn.files import atomic_path, write_json


def _finite(logs: dict) -> bool:
    return all(math.isfinite(float(v)) for v in logs.values() if v is not None)


class History(tf.keras.callbacks.CSVLogger):
    """Keras's CSVLogger with epochs counted from 1, as the console ("Epoch 1/20"), the
    resume note, best.json/last.json and done.json count them (Keras's own file counts
    from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch + 1, logs)


class ModelFile(tf.keras.callbacks.Callback):
    """Saves the trained network as a `.keras` file: every epoch, or when `monitor` improves.

    Unlike `ModelCheckpoint` it saves the *student* of a `Distiller` (the file a user
    evaluates and converts), never an epoch whose logs hold a NaN (so after
    `TerminateOnNaN` the last good model stays), and writes atomically.
    """

    def __init__(self, path: str, monitor: str | None = None, mode: str = "max"):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path, self.monitor, self.mode = path, monitor, mode
        self.best = None
        # The best value survives a restart (BackupAndRestore resumes mid-run).
        if monitor is not None and os.path.exists(self.record_path):
            with open(self.record_path) as f:
                self.best = json.load(f)["value"]

    @property
    def record_path(self) -> str:
        """JSON beside the model: the epoch and the monitored value it was saved at."""
        return os.path.splitext(self.path)[0] + ".json"

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not _finite(logs):
            return
        if self.monitor is not None:
            if self.monitor not in logs:
                raise KeyError(
                    f"ModelFile monitors {self.monitor!r}, but the epoch logs hold only "
                    f"{sorted(logs)}: pass validation data or another monitor"
                )
            value = float(logs[self.monitor])
            if not self._improved(value):
                return
            self.best = value
        model = getattr(self.model, "student", self.model)
        if not _is_chief():
            # Every worker of a multi-worker run must take part in saving (it may run
            # collectives); only the chief's file is kept (TF's documented pattern).
            folder = tempfile.mkdtemp()
            try:
                model.save(os.path.join(folder, os.path.basename(self.path)))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return
        with atomic_path(self.path) as tmp:
            model.save(tmp)
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        if self.monitor is not None:
            record.update(monitor=self.monitor, value=self.best)
        write_json(self.record_path, record)


class ResumeNote(tf.keras.callbacks.Callback):
    """Says where a resumed step starts: "resuming step 1 at epoch 13 of 20". Only Keras
    knows the epoch once BackupAndRestore (earlier in the list) has restored it, which
    may be one before the last epoch logged (a kill between the two writes)."""

    def __init__(self, label: str, epochs: int, say=print):
        super().__init__()
        self.label, self.epochs, self.say = label, epochs, say
        self.first = True

    def on_epoch_begin(self, epoch, logs=None):
        if self.first and epoch > 0:
            self.say(f"resuming {self.label} at epoch {epoch + 1} of {self.epochs}")
        self.first = False


def _is_chief() -> bool:
    strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )
