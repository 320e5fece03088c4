"""The run folder as a record a user can trust: reruns resume or are refused, accuracy
records say what they measured, and `abbnn report` shows only what was measured."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import image_folder

from larq_abbnn.analysis import report
from larq_abbnn.training import run_folder
from larq_abbnn.training.run_folder import RunFolder, RunMismatch

TINY = ["--width-multiplier", "0.125", "--batch-size", "8", "--verbose", "2"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """3 classes x 6 PNGs of 32 px."""
    return image_folder(tmp_path_factory.mktemp("images"), per_class=6)


def test_a_rerun_resumes_and_says_so_and_other_options_are_refused(
    abbnn, small_zoo, images, tmp_path
):
    out = tmp_path / "run"
    command = ["train", "--dataset", images, "--step", "1", "--epochs", "1", "--output", out,
               "--steps-per-epoch", "1"]  # fmt: skip
    code, stdout, stderr = abbnn(*command, *TINY)
    assert code == 0, stderr
    assert "step 1: binary activations, real weights; 1 epoch" in stdout
    recorded = (out / "run.json").read_bytes()

    code, stdout, stderr = abbnn(*command, *TINY)  # the same command: nothing to do
    assert code == 0, stderr
    assert "step 1 finished earlier: skipped" in stdout

    wider = [*TINY[:1], "0.25", *TINY[2:]]  # the trial's defect: a skipped run relabelled
    code, stdout, stderr = abbnn(*command, *wider, "--lr", "0.01")
    assert code == 1
    assert (
        f"{out} holds a run with other options (--width-multiplier 0.125 there, 0.25 now; "
        "--lr 0.001 there, 0.01 now)" in stderr
    )
    assert "start anew in another folder (--output)" in stderr
    assert (out / "run.json").read_bytes() == recorded  # refused before anything is touched
    assert "skipped" not in stdout

    # --step 2 later continues the same run: the steps add up, nothing else may differ
    config = RunFolder(out).config()
    RunFolder(out).start({**config, "steps": [2]})
    assert RunFolder(out).config()["steps"] == [1, 2]


def test_a_tune_rerun_with_other_options_is_refused_before_it_reloads_the_trials(
    abbnn, small_zoo, images, tmp_path
):
    """keras-tuner reloads a project folder whatever the options: the trial's rerun at
    another width, batch size and epochs reported the old trial as best, training nothing."""
    command = ["tune", "--dataset", images, "--trials", "1", "--steps-per-epoch", "1",
               "--directory", tmp_path]  # fmt: skip
    code, stdout, stderr = abbnn(*command, "--epochs", "1", *TINY)
    assert code == 0, stderr
    project = tmp_path / "ab_reactnet18-step1"
    trials = sorted(p.name for p in project.iterdir() if p.name.startswith("trial_"))
    assert len(trials) == 1

    wider = ["--width-multiplier", "0.25", "--batch-size", "4", "--verbose", "2"]
    code, stdout, stderr = abbnn(*command, "--epochs", "2", *wider)
    assert code == 1 and "best trial" not in stdout
    assert stderr.startswith(
        f"abbnn tune: error: {project} holds a run with other options (--epochs 1 there, 2 "
        "now; --batch-size 8 there, 4 now; --width-multiplier 0.125 there, 0.25 now). "
    )
    assert "start anew in another folder (--directory)" in stderr
    # more trials, and how it prints, are not other options: the search goes on
    code, stdout, stderr = abbnn(*command[:4], "2", *command[5:], "--epochs", "1", *TINY[:4])
    assert code == 0, stderr
    assert len([p for p in project.iterdir() if p.name.startswith("trial_")]) == 2


def test_train_and_tune_refuse_a_folder_they_cannot_write_before_reading_data(abbnn, tmp_path):
    """The trial: `train` announced step 1 and then failed with `[Errno 30]`."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the folder would go")
    (tmp_path / "no-images").mkdir()
    missing = f"folder:{tmp_path / 'no-images'}"  # never read: the check comes first
    code, _, stderr = abbnn("train", "--dataset", missing, "--output", blocker / "run")
    assert (code, stderr) == (
        1,
        f"abbnn train: error: cannot write {blocker / 'run' / 'run.json'}: {blocker} is not "
        "a folder\n",
    )
    code, _, stderr = abbnn("tune", "--dataset", missing, "--directory", blocker)
    assert code == 1
    assert stderr == (
        f"abbnn tune: error: cannot write {blocker / 'ab_reactnet18-step1' / 'run.json'}: "
        f"{blocker} is not a folder\n"
    )


def test_a_rerun_of_options_that_do_not_change_the_run_is_allowed(tmp_path):
    run = RunFolder(tmp_path)
    run.start({"model": "ab_reactnet18", "epochs": (2, 1), "strategy": "default"})
    # tuples are recorded as JSON lists; how a run is spread over devices is not what it trains
    run.start({"model": "ab_reactnet18", "epochs": [2, 1], "strategy": "mirrored"})
    with pytest.raises(RunMismatch, match=r"epochs \[2, 1\] there, \[2, 2\] now") as error:
        run.start({"epochs": (2, 2)})
    assert error.value.differences == {"epochs": ([2, 1], [2, 2])}


def test_a_run_whose_model_cannot_be_built_records_nothing(tmp_path):
    from larq_abbnn import data, training

    images = tf.data.Dataset.from_tensor_slices((np.zeros((4, 16, 16, 3)), np.zeros(4)))
    d = data.Data(images.batch(2), images.batch(2), 2, "cifar", 16, 4, 4, 2)

    def build(step):
        raise ValueError("the zoo refuses this input")

    with pytest.raises(ValueError, match="the zoo refuses this input"):
        training.two_step(build, d, epochs=1, folder=str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_folder_without_a_run_is_named(tmp_path):
    assert RunFolder(tmp_path).config() is None
    assert RunFolder.containing(str(tmp_path / "step2" / "best.keras")) is None
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match=f"{tmp_path / 'run.json'} cannot be read as JSON"):
        RunFolder(tmp_path).config()


def _fake_run(folder, dataset="folder:/data/cifar-jpegs", examples=30, tflite=True):
    """A run folder as abbnn train leaves it, with a stand-in .tflite file (read without
    the audit) unless `tflite` is False."""
    RunFolder(folder).start(
        {"model": "ab_reactnet18", "dataset": dataset, "width_multiplier": 0.5, "epochs": 2,
         "validation_split": "last 0.1 of each class", "validation_examples": examples}
    )  # fmt: skip
    for step, best in ((1, 0.5), (2, 0.6)):
        result = run_folder.StepResult(step, str(folder / f"step{step}"), 2, best, 2, 1.0)
        os.makedirs(result.folder)
        run_folder.write_finished_step(result)
    path = folder / "step2" / "best.tflite"
    if tflite:
        path.write_bytes(b"stand-in")
    return path


def _evaluation(top1, examples, limit=None, dataset="folder:/data/cifar-jpegs"):
    return {"top1": top1, "top5": 1.0, "dataset": dataset, "split": "last 0.1 of each class",
            "examples": examples, "limit": limit, "full": limit is None, "how": "TFLite"}  # fmt: skip


def test_report_shows_only_a_full_evaluation_of_the_runs_split(tmp_path):
    tflite = _fake_run(tmp_path)
    run_folder.record_accuracy(tflite, _evaluation(0.6, 30))
    # the trial's defect: `abbnn evaluate best.tflite --limit 3` after the full evaluation
    run_folder.record_accuracy(tflite, _evaluation(1 / 3, 3, limit=3))
    run_folder.record_accuracy(tflite, _evaluation(0.1, 30, dataset="cifar10"))  # another dataset
    assert len(run_folder.accuracy_records(tflite)) == 3  # kept side by side
    run = report.read_run(str(tmp_path), audit=False)
    assert run.deployments["tflite"].accuracy == 0.6
    assert run.deployments["tflite"].evaluated_on == "last 0.1 of each class, 30 images"
    # the same measurement again replaces its own record, and only that one
    run_folder.record_accuracy(tflite, _evaluation(0.7, 30))
    assert report.read_run(str(tmp_path), audit=False).deployments["tflite"].accuracy == 0.7
    assert len(run_folder.accuracy_records(tflite)) == 3


def test_report_shows_a_qonnx_deployment_beside_the_tflite_one(tmp_path):
    """Issue 33: a run's `.onnx` file and its recorded accuracy get their own columns; a
    run with only one format shows "-" in the other's."""
    tflite = _fake_run(tmp_path)
    run_folder.record_accuracy(tflite, _evaluation(0.6, 30))
    onnx = tflite.with_suffix(".onnx")
    onnx.write_bytes(b"x" * 2_500_000)
    run_folder.record_accuracy(onnx, {**_evaluation(0.5, 30), "how": "QONNX"})
    run = report.read_run(str(tmp_path), audit=False)
    assert (run.deployments["tflite"].accuracy, run.deployments["qonnx"].accuracy) == (0.6, 0.5)
    header, _, row = report.runs_table([run]).splitlines()
    assert header.endswith("| deployed .onnx | .onnx evaluated on | .onnx MB | MO (.onnx) |")
    assert row.endswith("| 50.00 | last 0.1 of each class, 30 images | 2.50 | - |")
    tflite.unlink()
    (row,) = report.runs_table([report.read_run(str(tmp_path), audit=False)]).splitlines()[2:]
    assert "| 60.00 | - | - | - | - | - | - | 50.00 |" in row  # no .tflite: its cells empty


def test_report_shows_no_deployed_accuracy_from_a_partial_evaluation(tmp_path):
    tflite = _fake_run(tmp_path)
    run_folder.record_accuracy(tflite, _evaluation(1 / 3, 3, limit=3))
    run = report.read_run(str(tmp_path), audit=False)
    assert (
        run.deployments["tflite"].accuracy is None
        and run.deployments["tflite"].evaluated_on is None
    )
    (row,) = report.runs_table([run]).splitlines()[2:]
    assert "| 60.00 | - | - | - | 0.00 |" in row  # step 2 best, paper, deployed, on, MB


def test_an_earlier_releases_record_counts_only_where_it_covers_the_split(tmp_path):
    tflite = _fake_run(tmp_path)
    record = run_folder.accuracy_record_path(tflite)
    legacy = {"top1": 0.6, "top5": 1.0, "examples": 30, "dataset": "folder:/data/cifar-jpegs"}
    open(record, "w").write(json.dumps(legacy))
    assert report.read_run(str(tmp_path), audit=False).deployments["tflite"].accuracy == 0.6
    legacy["examples"] = 3
    open(record, "w").write(json.dumps(legacy))
    assert report.read_run(str(tmp_path), audit=False).deployments["tflite"].accuracy is None


@pytest.mark.parametrize(
    "dataset, paper",
    [("cifar10", "cifar10"), ("cifar100", "cifar100"), ("imagenet", "imagenet"),
     ("imagenet2012", "imagenet"), ("cifar10:3.0.2", "cifar10"), ("folder:/x/cifar10", None),
     ("mnist", None), (None, None)],
)  # fmt: skip
def test_the_published_results_follow_the_runs_dataset(dataset, paper):
    assert report.paper_dataset(dataset) == paper


def test_report_csv_is_one_table_and_folders_need_no_paper(abbnn, tmp_path):
    _fake_run(tmp_path / "a", tflite=False)
    code, stdout, stderr = abbnn("report", tmp_path / "a", "--format", "csv", "--paper", "cifar10")
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 and not any(line.startswith("#") or not line for line in lines)
    header, row = (line.split(",") for line in lines)
    assert header[:7] == [
        "run",
        "model",
        "dataset",
        "epochs",
        "step 1 best",
        "step 2 best",
        "paper",
    ]
    assert row[6] == "92.30"  # ReActNet-18 A&B on CIFAR-10, spec section 5

    code, stdout, stderr = abbnn("report", tmp_path / "a")  # an image folder: no --paper
    assert code == 0, stderr
    assert "no published results to put beside these runs" in stderr and "--paper" in stderr
    assert "| a | ab_reactnet18 (x0.5) | folder:/data/cifar-jpegs |" in stdout


def test_report_refuses_a_plot_format_before_creating_anything(abbnn, tmp_path):
    code, _, stderr = abbnn("report", tmp_path, "--plot", tmp_path / "out" / "x.txt")
    assert code == 1 and "matplotlib cannot write .txt files" in stderr
    assert not (tmp_path / "out").exists()


# -- what the outputs show -----------------------------------------------------------------


def test_curves_of_one_epoch_per_step_show_points_on_whole_epochs(tmp_path):
    from larq_abbnn.training import plots

    for step in (1, 2):
        os.makedirs(tmp_path / f"step{step}")
        (tmp_path / f"step{step}" / "history.csv").write_text(
            "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.3,2.1,0.25,2.2\n"
        )
    plt = plots.pyplot()
    fig = plots.curves_figure(str(tmp_path), plt)
    for ax in fig.axes:
        lines = ax.get_lines()
        assert len([line for line in lines if line.get_marker() not in ("None", None, "")]) == 4
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)


def test_evaluations_progress_bar_has_a_total(capsys):
    from larq_abbnn.analysis.accuracy import evaluate

    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    images = tf.data.Dataset.from_tensor_slices(
        (np.zeros((7, 4), np.float32), np.zeros(7, np.int64))
    ).batch(2)
    assert evaluate(model, images, progress=True, total=7).examples == 7
    assert "0/7 [" in capsys.readouterr().err  # a total, not "7img [00:00, ...]"


@pytest.mark.parametrize("values", [[-3] * 960, [-5, -3, -3, -2]])
def test_the_slope_histogram_ticks_whole_exponents(values):
    """(The trial's slopes.png of an untrained run, every exponent -3, was ticked at
    -3.4, -3.2, ..., -2.6.)"""
    from larq_abbnn.training import plots

    plt = plots.pyplot()
    fig = plots.slopes_figure(np.asarray(values), "m", plt)
    assert list(fig.axes[0].get_xticks()) == list(range(min(values), max(values) + 1))
    plt.close(fig)


def test_only_the_run_folder_module_names_a_step_folders_files():
    """Each file of a step folder is named once, in `run_folder.StepFolder` (the trial:
    the training loop, the plots and the results each spelled them)."""
    from pathlib import Path

    root = Path(__file__).parent.parent
    names = ('"history.csv"', '"best.keras"', '"last.keras"', '"backup"', '"done.json"', '"logs"')
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for path in [*root.glob("larq_abbnn/**/*.py"), *root.glob("abbnn/**/*.py")]
        if path.name != "run_folder.py"
        for name in names
        if name in path.read_text()
    ]
    assert not offenders, offenders
    from larq_abbnn.training.run_folder import StepFolder

    files = StepFolder("runs/a/step2")
    assert (files.best, files.last, files.history, files.backup, files.done, files.logs) == (
        "runs/a/step2/best.keras",
        "runs/a/step2/last.keras",
        "runs/a/step2/history.csv",
        "runs/a/step2/backup",
        "runs/a/step2/done.json",
        "runs/a/step2/logs",
    )
