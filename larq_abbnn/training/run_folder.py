"""The run folder: the one module that knows its layout, for the trainer that writes it
and for `abbnn report`, the plots and `abbnn evaluate` that read it.

```
RUN/
  run.json            what was trained: model, dataset, network and recipe options
  step1/, step2/      one per recipe step:
    best.keras, best.json     the best validation epoch's model, and that epoch's logs
    last.keras, last.json     the last finished epoch's
    history.csv, logs/        one row per epoch (CSVLogger), TensorBoard
    backup/                   Keras's BackupAndRestore while the step runs
    done.json                 the step's result (`StepResult`), once it has finished
  curves.png, slopes.png
  FILE.accuracy.json  beside any model `abbnn evaluate` measured (e.g. step2/best.tflite)
```

A rerun into the same folder resumes, so `run.json` is also the guard of that promise:
`RunFolder.start` refuses options that would change the model or the recipe of the run
already there (resuming with them would mix two runs in one folder).
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field

from larq_abbnn.files import write_json

CONFIG = "run.json"
DONE = "done.json"
HISTORY = "history.csv"
#: run.json keys that do not change what is trained: a rerun may differ in them.
#: `steps` grows (`--step 1` now, both steps later), the strategy and verbosity are how.
NOT_COMPARED = frozenset({"steps", "strategy", "verbose", "data_dir", "manual_dir"})


@dataclass(frozen=True)
class StepFolder:
    """One step's folder (`RUN/stepN`): the path of every file a step writes, named here
    only (the module docstring's layout)."""

    path: str

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def history(self) -> str:
        return self._file(HISTORY)

    @property
    def logs(self) -> str:
        """TensorBoard's folder."""
        return self._file("logs")

    @property
    def best(self) -> str:
        return self._file("best.keras")

    @property
    def last(self) -> str:
        return self._file("last.keras")

    @property
    def backup(self) -> str:
        """Keras's BackupAndRestore folder, while the step runs."""
        return self._file("backup")

    @property
    def done(self) -> str:
        return self._file(DONE)

    def remove_backup(self) -> None:
        """BackupAndRestore empties its folder when training ends; the folder goes too."""
        shutil.rmtree(self.backup, ignore_errors=True)


class RunMismatch(ValueError):
    """A rerun whose options differ from those its run folder was started with;
    `differences` maps each run.json key to (recorded, given)."""

    def __init__(
        self,
        folder: str,
        differences: dict[str, tuple],
        names: dict | None = None,
        folder_option: str = "--output",
    ):
        names = names or {}
        listed = "; ".join(
            f"{names.get(key, key)} {old!r} there, {new!r} now"
            for key, (old, new) in differences.items()
        )
        super().__init__(
            f"{folder} holds a run with other options ({listed}). Rerun with the options it "
            f"was started with to resume it, or start anew in another folder ({folder_option}) "
            "or after deleting this one."
        )
        self.folder, self.differences = folder, differences


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
        return StepFolder(self.folder).best

    @property
    def last_path(self) -> str:
        return StepFolder(self.folder).last


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


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} cannot be read as JSON: {error}") from None


class RunFolder:
    """A run folder at `path` (it need not exist yet)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)

    def __repr__(self) -> str:
        return f"RunFolder({self.path!r})"

    @classmethod
    def containing(cls, file: str, levels: int = 3) -> RunFolder | None:
        """The run folder `file` lies in (`RUN/step2/best.keras`), if any: the nearest
        of its parent folders, up to `levels` up, that holds a `run.json`."""
        folder = os.path.dirname(os.path.abspath(file))
        for _ in range(levels):
            if os.path.isfile(os.path.join(folder, CONFIG)):
                return cls(folder)
            folder = os.path.dirname(folder)
        return None

    # -- run.json ---------------------------------------------------------------------
    @property
    def config_path(self) -> str:
        return os.path.join(self.path, CONFIG)

    def config(self) -> dict | None:
        """What `run.json` records, or None in a folder without one."""
        if not os.path.isfile(self.config_path):
            return None
        return _read_json(self.config_path)

    def differences(self, config: dict) -> dict[str, tuple]:
        """key -> (recorded, given) where `config` differs from `run.json` (keys both have)."""
        recorded = self.config() or {}
        config = json.loads(json.dumps(config))  # as run.json holds it: tuples are lists
        return {
            key: (recorded[key], value)
            for key, value in config.items()
            if key in recorded and key not in NOT_COMPARED and recorded[key] != value
        }

    def check(
        self, config: dict, names: dict[str, str] | None = None, folder_option: str = "--output"
    ) -> None:
        """Raise `RunMismatch` naming each option where `config` differs from the run's
        (`names`: how to call a key in the message, e.g. "--lr" for "learning_rate";
        `folder_option`: the option that names the folder, for "another folder (...)")."""
        differences = self.differences(config)
        if differences:
            raise RunMismatch(self.path, differences, names, folder_option)

    def start(self, config: dict, names: dict[str, str] | None = None) -> None:
        """Check `config` against the run's (`check`) and record it, with the steps asked
        for so far added to those recorded. Touches nothing when the check fails."""
        self.check(config, names)
        recorded = self.config() or {}
        config = json.loads(json.dumps(config))
        steps = sorted(set(recorded.get("steps", [])) | set(config.get("steps", [])))
        write_json(self.config_path, {**recorded, **config, "steps": steps})

    # -- steps ------------------------------------------------------------------------
    def step_folder(self, step: int) -> str:
        return os.path.join(self.path, f"step{step}")

    def history(self, step: int) -> dict[str, list[float]]:
        return read_history(StepFolder(self.step_folder(step)).history)

    def finished_steps(self) -> dict[int, dict]:
        """step -> its `done.json`, for the steps that have finished."""
        done = {step: _done(self.step_folder(step)) for step in (1, 2)}
        return {step: record for step, record in done.items() if record is not None}

    def converted_files(self, suffix: str = ".tflite") -> list[str]:
        """Every converted file with `suffix` (".tflite", ".onnx") in the run folder, sorted."""
        pattern = os.path.join(glob.escape(self.path), "**", "*" + suffix)
        return sorted(glob.glob(pattern, recursive=True))


def _done(folder: str) -> dict | None:
    """The `done.json` of the step in `folder`, or None while it has not finished."""
    path = StepFolder(folder).done
    return _read_json(path) if os.path.isfile(path) else None


def finished_step(folder: str) -> StepResult | None:
    """The result of the step that finished in `folder` (its `done.json`), or None."""
    done = _done(folder)
    return None if done is None else StepResult(**done)


def write_finished_step(result: StepResult) -> None:
    write_json(StepFolder(result.folder).done, asdict(result))


# -- accuracy records ---------------------------------------------------------------------
#: What makes two evaluations the same measurement: a new one replaces only its own kind.
MEASUREMENT = ("dataset", "split", "examples", "how")


def accuracy_record_path(model_path: str) -> str:
    """Where `abbnn evaluate` records a model's accuracy: `MODEL.accuracy.json`."""
    return os.fspath(model_path) + ".accuracy.json"


def accuracy_records(model_path: str) -> list[dict]:
    """The evaluations recorded beside `model_path` (none if there is no record). Each
    says what it measured: dataset, split, examples, `limit`, whether it was the whole
    split (`full`), how the model ran, top-1 and top-5."""
    path = accuracy_record_path(model_path)
    if not os.path.isfile(path):
        return []
    record = _read_json(path)
    # a record of an earlier release holds one evaluation, without `split` or `full`
    return record.get("evaluations", [record] if "top1" in record else [])


def record_accuracy(model_path: str, evaluation: dict) -> None:
    """Add `evaluation` to the record beside `model_path`. It replaces an earlier one
    only of the same measurement (`MEASUREMENT`): a 3-image check never overwrites the
    evaluation of the whole split."""
    key = tuple(evaluation.get(k) for k in MEASUREMENT)
    kept = [e for e in accuracy_records(model_path) if tuple(e.get(k) for k in MEASUREMENT) != key]
    write_json(accuracy_record_path(model_path), {"evaluations": [*kept, evaluation]})


def full_evaluation(model_path: str, dataset: str, examples: int | None) -> dict | None:
    """The newest evaluation beside `model_path` of the whole validation split of
    `dataset` (`examples` images, when the run recorded how many), or None."""
    matching = [
        e
        for e in accuracy_records(model_path)
        if e.get("dataset") == dataset
        and e.get("limit") is None
        and (examples is None or e.get("examples") == examples)
        and e.get("full", examples is not None)
    ]
    return matching[-1] if matching else None
