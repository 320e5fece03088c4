"""`abbnn train`, `evaluate` and `tune` as users run them, including kills and clusters.

The two-step run, evaluate, convert and report run the zoo's ReActNet-18 as typed; the
mechanism tests (kills and resumes, the tuner, the strategies, float64) run the same
command line with ReActNet-18 at one block per stage (`SMALL_ABBNN`, tests/small_cli.py),
a third of the start-up per step."""

import csv
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, SMALL_ABBNN, image_folder, run_abbnn

import larq_abbnn  # noqa: F401  (registers the layers `load_model` reads)

TINY = ["--width-multiplier", "0.125", "--batch-size", "8", "--verbose", "2"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """3 classes x 12 PNGs whose classes differ in brightness (learnable in a few steps)."""
    return image_folder(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def two_step_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = run_abbnn(
        "train",
        "--dataset",
        folder,
        "--two-step",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "2",
        "--output",
        str(out),
        *TINY,
        as_user=True,
    )
    assert result.returncode == 0, result.stderr
    return out, result.stdout, result.stderr


@pytest.fixture(scope="module")
def deployed(two_step_run, folder):
    """The run's step-2 model converted beside it as a user does (README: `abbnn convert
    RUN/step2/best.keras -o RUN/step2/best.tflite`), then evaluated on the run's data:
    (file, convert's result, evaluate's result). Shared by the evaluate and report tests."""
    out, _, _ = two_step_run
    tflite = out / "step2" / "best.tflite"
    converted = run_abbnn("convert", str(out / "step2" / "best.keras"), "-o", str(tflite),
                          as_user=True)  # fmt: skip
    evaluated = run_abbnn("evaluate", str(tflite), "--dataset", folder)
    return tflite, converted, evaluated


def test_train_two_step_writes_models_history_and_plots(two_step_run):
    out, stdout, stderr = two_step_run
    assert "33 train / 3 validation images, 3 classes, 32px" in stdout
    # which step runs, what comes after the last epoch, and no library noise on stderr
    assert "step 1 of 2: binary activations, real weights; 2 epochs\n" in stdout
    assert "step 2 of 2: binary activations and weights; 2 epochs\n" in stdout
    assert "step 2 of 2 done: best val top-1 " in stdout  # percent, as the report's
    assert "plots      writing the training curves" in stdout
    assert stderr == "", stderr
    for step in (1, 2):
        folder = out / f"step{step}"
        for name in ("best.keras", "last.keras", "history.csv", "done.json"):
            assert (folder / name).exists(), f"step{step}/{name}"
        assert (folder / "logs" / "train").is_dir()  # TensorBoard
        assert json.loads((folder / "done.json").read_text())["epochs"] == 2
    for png in ("curves.png", "slopes.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_in_float64_with_ten_classes(tmp_path):
    """`abbnn train --floatx float64`: both steps (compile_for_step, train_recipe_step, two_step)
    train float64 models, with the top-5 metric of 10 classes."""
    rng = np.random.default_rng(1)
    for c in range(10):
        os.makedirs(tmp_path / "images" / f"c{c}")
        for i in range(3):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            (tmp_path / "images" / f"c{c}" / f"{i}.png").write_bytes(
                tf.io.encode_png(pixels).numpy()
            )
    out = tmp_path / "run"
    result = run_abbnn(
        "train", "--dataset", f"folder:{tmp_path / 'images'}", "--val-fraction", "0.34",
        "--epochs", "1", "--floatx", "float64", "--output", str(out), *TINY, small=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for step in (1, 2):
        history = (out / f"step{step}" / "history.csv").read_text()
        assert "top5" in history and "val_top5" in history and "nan" not in history
        model = tf.keras.models.load_model(out / f"step{step}" / "best.keras")
        assert {w.dtype for w in model.get_weights()} == {np.dtype("float64")}


def test_evaluate_keras_and_tflite(two_step_run, deployed, folder, tmp_path, abbnn):
    """The deployment as a user runs it (`deployed`: convert and evaluate in processes of
    their own), then the other files' commands in this process."""
    out, _, _ = two_step_run
    model = out / "step2" / "best.keras"
    code, stdout, stderr = abbnn("evaluate", model)  # the run's dataset, as the README has it
    assert code == 0, stderr
    assert f"dataset    {folder}, the run's ({out / 'run.json'})" in stdout
    assert "[Keras]" in stdout and "on 3 images" in stdout
    assert "validation (last 0.1 of each class)" in stdout
    tflite, converted, result = deployed
    assert converted.returncode == 0, converted.stderr
    assert converted.stderr == ""  # no library noise
    assert "convert    converting with Larq Compute Engine (MLIR) ...\n" in converted.stdout
    assert "binary convs: 16\n" in converted.stdout  # every 3x3 conv of ReActNet-18
    assert result.returncode == 0, result.stderr
    from larq_abbnn.analysis.kernels import default_kernel  # indirect_bgemm on x86-64

    cores = os.cpu_count()
    kind = f"[TFLite (LCE interpreter, {default_kernel()}, {cores} thread{'s' * (cores > 1)})]"
    assert kind in result.stdout
    assert "top-1" in result.stdout and "images/s)" in result.stdout
    # a file that takes the camera's uint8 pixels (the normalization inside), verified;
    # evaluate gives it the pixels, and on every kernel it scores what the float file does
    pixels = tmp_path / "m_uint8.tflite"
    code, stdout, stderr = abbnn(
        "convert", model, "-o", pixels, "--input-pixels", "uint8", "--verify", "--audit"
    )
    assert code == 0, stderr
    assert "ops: " in stdout and "CAST 1" in stdout
    assert "input normalization (preprocessing)" in stdout
    assert "verify: 256 inputs; fold exact in float64" in stdout
    code, other, stderr = abbnn(
        "evaluate", pixels, "--dataset", folder, "--kernel", "reference", "--threads", "1"
    )
    assert code == 0, stderr
    assert "reference, 1 thread)" in other
    accuracy = [text.split("top-1 ")[1].split(" (")[0] for text in (result.stdout, other)]
    assert accuracy[0] == accuracy[1]
    if importlib.util.find_spec("qonnx") is None:  # the [onnx] extra
        return
    # a QONNX file of the same model (issue 33): evaluated in qonnx's executor, recorded
    # beside it, scoring what the TFLite file scores
    qonnx = tmp_path / "m.onnx"
    code, _, stderr = abbnn("convert", model, "-o", qonnx)
    assert code == 0, stderr
    code, onnx, stderr = abbnn("evaluate", qonnx, "--dataset", folder)
    assert code == 0, stderr
    assert "[QONNX (qonnx executor)]" in onnx
    (record,) = json.loads((tmp_path / "m.onnx.accuracy.json").read_text())["evaluations"]
    assert record["how"] == "QONNX (qonnx executor)" and record["examples"] == 3
    assert onnx.split("top-1 ")[1].split(" (")[0] == accuracy[0]


def test_evaluate_refuses_a_model_of_another_input_size(two_step_run, tmp_path, abbnn):
    out, _, _ = two_step_run
    images = tmp_path / "big" / "a"
    images.mkdir(parents=True)
    pixels = np.zeros((96, 96, 3), np.uint8)
    for i in range(10):
        (images / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    (tmp_path / "big" / "b").mkdir()
    for i in range(10):
        (tmp_path / "big" / "b" / f"{i}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    code, _, stderr = abbnn(
        "evaluate", out / "step2" / "best.keras", "--dataset", f"folder:{tmp_path / 'big'}"
    )
    assert code == 1
    assert "takes (32, 32, 3) inputs but" in stderr and "(224, 224, 3)" in stderr
    # the trial's defect: a 3-class model on a 2-class folder recorded 0.00
    small = tmp_path / "small"
    for c in "ab":
        (small / c).mkdir(parents=True)
        for i in range(10):
            (small / c / f"{i}.png").write_bytes(tf.io.encode_png(pixels[:32, :32]).numpy())
    model = out / "step2" / "best.keras"
    code, _, stderr = abbnn("evaluate", model, "--dataset", f"folder:{small}")
    assert code == 1
    assert f"{model} has 3 classes but folder:{small} has 2" in stderr
    record = out / "step2" / "best.keras.accuracy.json"
    assert not record.exists() or str(small) not in record.read_text()  # nothing recorded


#: long enough that a kill after a random delay lands mid-run: ReActNet-18 at one block per
#: stage trains an epoch in about 0.2 s here, and the seeded delay (1.04 s) kills it at about
#: the 6th
EPOCHS = 20


def _history_rows(path):
    if not path.exists():
        return 0
    return max(0, len(path.read_text().strip().splitlines()) - 1)


@pytest.mark.parametrize(
    "rows, delay",
    [  # the kill after the first epoch's row is slow (the default suite's time budget)
        pytest.param(2, 0.0, marks=pytest.mark.slow),
        (1, float(np.random.default_rng(15).uniform(0, 1.5))),
    ],
)
def test_sigkill_and_rerun_resumes_losing_at_most_one_epoch(folder, tmp_path, rows, delay):
    """Killed once `rows` epochs are logged (+ a seeded delay: mid-epoch or mid-save), rerun:
    the rerun starts at the epoch after the last backup, which is the last logged epoch
    or the one before it (never later: no epoch is skipped), and every epoch is logged."""
    args = [
        *SMALL_ABBNN,
        "train",
        "--dataset",
        folder,
        "--step",
        "1",
        "--epochs",
        str(EPOCHS),
        "--steps-per-epoch",
        "2",
        "--output",
        str(tmp_path),
        *TINY,
    ]
    history = tmp_path / "step1" / "history.csv"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 600
    while _history_rows(history) < rows and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    logged = _history_rows(history)  # epochs 1..logged finished and logged
    assert rows <= logged < EPOCHS, "the run was not killed mid-way"
    assert not (tmp_path / "step1" / "done.json").exists()

    rerun = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    first_epoch = int(rerun.stdout.split("Epoch ")[1].split("/")[0])  # 1-based, as printed
    assert first_epoch in (logged, logged + 1), (first_epoch, logged)
    assert f"resuming step 1 at epoch {first_epoch} of {EPOCHS}\n" in rerun.stdout
    epochs = [int(line.split(",")[0]) for line in history.read_text().splitlines()[1:]]
    assert sorted(set(epochs)) == list(range(1, EPOCHS + 1))  # 1-based, as the console
    assert len(epochs) == EPOCHS + (logged + 1 - first_epoch)  # a repeated epoch logs twice


def test_sigterm_stops_like_ctrl_c_keeps_the_backup_and_the_rerun_resumes(folder, tmp_path):
    """`timeout`, SLURM and `docker stop` send SIGTERM: the trial's run died with nothing
    printed. Now it stops cleanly, says so on a line of its own with how to resume, and
    the rerun resumes from the backup."""
    epochs = 12  # an epoch is about 0.2 s: the signal lands mid-run
    args = [
        *SMALL_ABBNN, "train", "--dataset", folder, "--step", "1",
        "--epochs", str(epochs), "--steps-per-epoch", "2", "--output", str(tmp_path), *TINY,
    ]  # fmt: skip
    history = tmp_path / "step1" / "history.csv"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    deadline = time.time() + 600
    backup = tmp_path / "step1" / "backup"
    # until the first epoch's backup is written (Keras's checkpoint file in it)
    while proc.poll() is None and time.time() < deadline:
        if list(backup.glob("**/checkpoint")):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.splitlines()[-1] == (
        "abbnn: terminated; rerun the same command to resume from the last finished epoch"
    )
    assert stdout.endswith("\n")
    logged = _history_rows(history)
    assert 1 <= logged < epochs and not (tmp_path / "step1" / "done.json").exists()
    assert backup.is_dir()

    rerun = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming step 1 at epoch " in rerun.stdout
    assert (tmp_path / "step1" / "done.json").exists()


_RESUME_PROBE = """
import os, signal, sys
import numpy as np
import tensorflow as tf
sys.path.insert(0, "tests")
import networks
from larq_abbnn import data, training

folder, out, phase, dataset = sys.argv[1:5]
tf.keras.utils.set_random_seed(0)
d = data.load(dataset, batch_size=8)


def build():
    return networks.ab_reactnet18_one_block_per_stage(
        input_shape=d.input_shape,
        num_classes=d.num_classes,
        stem=d.stem,
        step=1,
        width_multiplier=0.125,
    )


def save_and_die(model, epoch):
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)  # creates, and so restores, the moments
    arrays = {f"opt{i}": v.numpy() for i, v in enumerate(optimizer.variables)}
    arrays.update({f"w{i}": w.numpy() for i, w in enumerate(model.weights)})
    names = [v.name for v in optimizer.variables]
    np.savez(out, epoch=epoch, names=np.array(names), **arrays)
    os.kill(os.getpid(), signal.SIGKILL)


class Probe(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if phase == "resume":
            save_and_die(self.model, epoch)

    def on_epoch_end(self, epoch, logs=None):
        if phase == "kill" and epoch == 1:
            save_and_die(self.model, epoch + 1)


training.train_recipe_step(
    build, d, step=1, epochs=4, folder=folder, recipe=training.Recipe(steps_per_epoch=2),
    verbose=0, callbacks=[Probe()],
)
"""


def test_a_killed_run_resumes_with_the_optimizer_state_it_had(folder, tmp_path):
    """SIGKILL right after epoch 2's backup: the rerun's first epoch is the 3rd, and its
    weights, iteration count and every Adam moment equal the killed run's at the end of
    epoch 2 (the state an uninterrupted run carries into epoch 3), bit for bit."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = tmp_path / "run"
    states = {}
    for phase in ("kill", "resume"):
        out = tmp_path / f"{phase}.npz"
        subprocess.run(
            [sys.executable, "-c", _RESUME_PROBE, str(run), str(out), phase, folder],
            env=env, cwd=REPO, timeout=600,
        )  # fmt: skip
        assert out.exists(), f"the {phase} run ended before its probe"
        states[phase] = np.load(out)
    killed, resumed = states["kill"], states["resume"]
    assert int(killed["epoch"]) == int(resumed["epoch"]) == 2  # 0-based: the 3rd epoch
    # created inside the first update or by the probe: only the name scope differs
    names = [n.split("AGCAdam/")[-1] for n in killed["names"]]
    assert names == [n.split("AGCAdam/")[-1] for n in resumed["names"]]
    assert names[0].startswith("iteration")
    assert int(resumed["opt0"]) == 4  # 2 epochs of 2 steps
    moments = [i for i, n in enumerate(names) if n.startswith(("m/", "v/"))]
    assert len(moments) > 50 and all(np.any(killed[f"opt{i}"] != 0) for i in moments[:4])
    for key in killed.files:
        if key.startswith(("opt", "w")):
            np.testing.assert_array_equal(resumed[key], killed[key], err_msg=key)


def test_tune_runs_two_trials_and_resumes(folder, tmp_path):
    args = [
        "tune",
        "--dataset",
        folder,
        "--trials",
        "2",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--directory",
        str(tmp_path),
        *TINY,
    ]
    result = run_abbnn(*args, small=True)
    assert result.returncode == 0, result.stderr
    # numbered as keras-tuner shows trials ("Trial #1"), with the train options they are
    number = int(result.stdout.split("best trial #")[1].split(" ")[0])
    assert number in (1, 2)
    options = result.stdout.split("as abbnn train options: ")[1].splitlines()[0].split()
    from abbnn.cli import build_parser

    parsed = build_parser().parse_args(["train", *options])
    best = json.loads((tmp_path / "ab_reactnet18-step1" / "best_hyperparameters.json").read_text())
    assert parsed.prelu_exponent == best["prelu_exponent"]
    assert parsed.alpha == 2.0 ** best["alpha_exponent"] and parsed.lr == pytest.approx(
        best["learning_rate"], rel=1e-5
    )
    assert {"learning_rate", "weight_decay", "alpha_exponent", "prelu_exponent"} <= set(best)
    assert best["alpha_exponent"] in (-2, -3) and -5 <= best["prelu_exponent"] <= -1
    trials = [
        p for p in (tmp_path / "ab_reactnet18-step1").iterdir() if p.name.startswith("trial_")
    ]
    assert len(trials) == 2
    again = run_abbnn(*args, small=True)  # the finished search is reloaded, no new trial
    assert again.returncode == 0, again.stderr
    assert (
        len(
            [p for p in (tmp_path / "ab_reactnet18-step1").iterdir() if p.name.startswith("trial_")]
        )
        == 2
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tune_in_keras_tuners_distributed_mode_a_chief_and_a_worker(folder, tmp_path):
    """keras-tuner's chief serves the oracle on 127.0.0.1 and a worker runs both trials
    (the KERASTUNER_* variables, as on a cluster); the chief then reports the best."""
    port = _free_port()
    args = [
        *SMALL_ABBNN, "tune", "--dataset", folder, "--trials", "2",
        "--epochs", "1", "--steps-per-epoch", "2", *TINY,
    ]  # fmt: skip
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERASTUNER_ORACLE_IP": "127.0.0.1"}
    base["KERASTUNER_ORACLE_PORT"] = str(port)
    processes = {}
    for tuner_id in ("chief", "tuner0"):
        processes[tuner_id] = subprocess.Popen(
            [*args, "--directory", str(tmp_path / tuner_id)],
            env={**base, "KERASTUNER_TUNER_ID": tuner_id},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        outputs = {name: p.communicate(timeout=600) for name, p in processes.items()}
    finally:
        for p in processes.values():
            p.kill()
    for name, p in processes.items():
        assert p.returncode == 0, f"{name}: {outputs[name][1][-3000:]}"
    assert "worker tuner0: 2 trials run; the chief reports the best" in outputs["tuner0"][0]
    worker = tmp_path / "tuner0" / "ab_reactnet18-step1"
    weights = sorted(p.name for p in worker.glob("trial_*/best.weights.h5"))
    assert len(weights) == 2, list(worker.iterdir())
    chief = tmp_path / "chief" / "ab_reactnet18-step1"
    trials = [json.loads(p.read_text()) for p in chief.glob("trial_*/trial.json")]
    assert [t["status"] for t in trials] == ["COMPLETED", "COMPLETED"]
    best = json.loads((chief / "best_hyperparameters.json").read_text())
    assert best["val_accuracy"] == max(t["score"] for t in trials)
    assert "best trial" in outputs["chief"][0]


MIRRORED = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, "tests")
from small_cli import cli  # abbnn, ReActNet-18 at one block per stage
sys.exit(cli.main(sys.argv[1:]))
"""


def test_mirrored_strategy_on_two_logical_cpus(folder, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            MIRRORED,
            "train",
            "--strategy",
            "mirrored",
            "--dataset",
            folder,
            "--step",
            "1",
            "--epochs",
            "1",
            "--steps-per-epoch",
            "2",
            "--output",
            str(tmp_path),
            *TINY,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert "2 replica(s)" in result.stdout
    assert (tmp_path / "step1" / "best.keras").exists()


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multiworker_strategy_with_two_workers(folder, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        procs.append(
            subprocess.Popen(
                [
                    *SMALL_ABBNN,
                    "train",
                    "--strategy",
                    "multiworker",
                    "--dataset",
                    folder,
                    "--step",
                    "1",
                    "--epochs",
                    "1",
                    "--steps-per-epoch",
                    "2",
                    "--output",
                    str(tmp_path / f"worker{index}"),
                    *TINY,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
        assert "2 replica(s)" in out
    # the chief (worker 0) keeps the model; both workers saw the same synchronized loss
    assert (tmp_path / "worker0" / "step1" / "best.keras").exists()
    assert not (tmp_path / "worker1" / "step1" / "best.keras").exists()
    losses = [
        (tmp_path / f"worker{i}" / "step1" / "history.csv").read_text().splitlines()[1]
        for i in range(2)
    ]
    assert losses[0] == losses[1]


def test_train_errors_are_one_line(tmp_path, abbnn):
    """In this process (test_reliability runs each command's errors in a subprocess)."""
    code, _, stderr = abbnn("train", "--dataset", f"folder:{tmp_path}/nope", "--output", tmp_path)
    assert code == 1
    assert stderr.strip() == f"abbnn train: error: image folder not found: {tmp_path}/nope"
    code, _, stderr = abbnn("train", "--strategy", "multiworker", "--dataset", "cifar10")
    assert code == 1 and "TF_CONFIG, which is not set" in stderr


def test_report_reads_finished_runs_beside_the_papers_numbers(
    two_step_run, deployed, folder, tmp_path, abbnn
):
    """`abbnn report` on run folders of short real runs: an A&B two-step run, converted
    and evaluated, and a one-step BN run."""
    out, _, _ = two_step_run
    tflite, converted, evaluated = deployed
    bn = tmp_path / "bn"
    trained = run_abbnn(
        "train", "--dataset", folder, "--model", "bn_reactnet18", "--step", "1",
        "--epochs", "1", "--steps-per-epoch", "2", "--output", str(bn), *TINY,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert converted.returncode == 0 and evaluated.returncode == 0, evaluated.stderr
    (deployed,) = json.loads((out / "step2" / "best.tflite.accuracy.json").read_text())[
        "evaluations"
    ]
    assert (deployed["examples"], deployed["full"], deployed["limit"]) == (3, True, None)
    # a quick check afterwards is recorded beside it, and the report keeps the full one
    code, partial, stderr = abbnn("evaluate", tflite, "--limit", "1")
    assert code == 0, stderr
    assert "(last 0.1 of each class, first 1)" in partial

    png = tmp_path / "report.png"
    code, stdout, stderr = abbnn(
        "report", str(out), str(bn), "--paper", "cifar10", "--plot", str(png)
    )
    assert code == 0, stderr
    best = [
        json.loads((d / "done.json").read_text())["best_val_accuracy"]
        for d in (out / "step2", bn / "step1")
    ]
    (row,) = [line for line in stdout.splitlines() if line.startswith("| ReActNet-18 |")]
    # each of ours named by its run folder, then the paper's (the trial: "13.33 / 33.33 / 92.30")
    assert row == (
        f"| ReActNet-18 | {100 * best[1]:.2f} ({bn.name}); 92.31 | -; 92.08 | "
        f"{100 * best[0]:.2f} ({out.name}); 92.30 |"
    )
    header = next(line for line in stdout.splitlines() if line.startswith("| network |"))
    assert "| A&B top-1 %: ours (run); paper |" in header
    (ab,) = [line for line in stdout.splitlines() if "ab_reactnet18 (x" in line]
    cells = [c.strip() for c in ab.strip("|").split("|")]
    assert cells[6] == "92.30"  # the paper's, for ReActNet-18 A&B on CIFAR-10
    assert cells[7] == f"{100 * deployed['top1']:.2f}"  # the deployed file's, as evaluated
    assert cells[8] == "last 0.1 of each class, 3 images"
    assert cells[9] == f"{tflite.stat().st_size / 1e6:.2f}" and cells[10] == "0"  # MO of the file
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    _, as_csv, _ = abbnn("report", str(out), "--paper", "cifar10", "--format", "csv")
    rows = list(csv.reader(as_csv.strip().splitlines()))  # one table
    assert rows[0][:3] == ["run", "model", "dataset"] and len(rows) == 2
    assert rows[1][5] == f"{100 * best[0]:.2f}"

    code, stdout, stderr = abbnn("report", str(out))  # an image folder: which paper column?
    assert code == 0 and "--paper cifar10" in stderr and "| ab_reactnet18 (x0.125) |" in stdout
    code, _, stderr = abbnn("report", str(tmp_path))
    assert code == 1 and "no run.json" in stderr
