"""Run the test suite one test file per process: `python tools/run_tests.py [pytest args]`.

TensorFlow keeps about 100 MB per built-and-trained Keras model for the life of a process
(measured: 10 small ABReActNet18 builds + fits grow a process from 0.7 to 1.9 GB, with
`clear_session()` and `gc.collect()`, before and after this project's changes alike). The
suite builds a few hundred models, which outgrew 24 GB in one process; a process per file
bounds it. Files run two at a time (`ABBNN_TEST_JOBS`, default 2): much of a test's time
is single-threaded (Python graph building, tracing, MLIR conversion), so two processes
keep both cores busy. The longest files start first. pytest-xdist would split files
across workers too, but then one worker process would still hold a whole share of the
suite's models. Arguments go to every pytest run. Prints each file's output when it ends,
then one "N passed, N failed" line.

`--compat` runs only the files of COMPAT: what must hold on every supported stack
(layers, the zoo's builds, the authors' fixture replays, the optimizer replay, fold,
convert, verify, the audit, checkpoint import, `import larq_abbnn` and the CLI). `.ci/run`
runs the whole suite on the newest stack and this subset on TensorFlow 2.15.
"""

import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Files by their measured CPU seconds, longest first (an Intel Xeon of this machine kind,
#: in the final suite of issue 32: 272, 170, 111, ... 11), so that the run ends on short
#: files and neither job idles while the other finishes a long one; the rest follow.
LONGEST = [
    "test_docs_commands.py",
    "test_train_cli.py",
    "test_conversion.py",
    "test_zoo.py",
    "test_training.py",
    "test_hls4ml.py",
    "test_qonnx.py",
    "test_lce_conversion.py",
    "test_cli.py",
    "test_finn.py",
    "test_reliability.py",
    "test_audit.py",
    "test_checkpoint_import.py",
    "test_benchmark.py",
    "test_ablations.py",
    "test_run_folder.py",
    "test_families.py",
    "test_stack.py",
    "test_layers.py",
    "test_energy.py",
]
#: file -> pytest -k expression (None: the whole file). Measured on TensorFlow 2.15 before
#: the selections below were trimmed: 700 s (test_converters 610, test_zoo 483); after
#: them, with test_cli's tiny train + convert: 562 s (test_converters 331, test_zoo 229).
#: test_converters is now test_conversion and test_audit, with the same selection.
COMPAT = {
    "test_architecture.py": None,
    "test_checkpoint_import.py": None,
    "test_cli.py": None,
    # the audits in both dialects, and the BN file's family (the command-line cases run
    # on the newest stack)
    "test_audit.py": "keras_audit or bn_baselines_audit or bn_baselines_convert or tflite_audit",
    # fold in float64 (every family), and fold + convert + verify at 32 px; the 96 px
    # verifies (145 s) and the command-line and save/load cases run on the newest stack
    "test_conversion.py": (
        "(fold_computes or sign_kernels or fold_refuses or converted_folded_model_verifies"
        " or fails_loudly or padding_correction) and not 96-imagenet"
    ),
    "test_families.py": None,
    # tfds's real builders (their checksums, download_and_prepare) offline, as the
    # README's `abbnn train --dataset cifar10` reaches them: tfds differs per stack
    "test_data.py": "real_builder or real_download or offline",
    # QONNX export (the [onnx] extra beside TF 2.15's protobuf 3.20): every family's
    # verify, the export's nodes, the audit's three dialects, the XNOR-popcount transform
    "test_qonnx.py": "every_zoo or papers_concepts or audit_matches or xnor",
    "test_layers.py": None,
    "test_quantizers.py": None,
    "test_reference_blocks.py": None,
    "test_reference_training.py": None,
    "test_stack.py": None,
    # the training-step cases (110 s) are the optimizer replay's on this stack
    "test_zoo.py": "not training_step_changes",
}


def _run(path: str, pytest_args: list[str]) -> tuple[str, str, int, float, float]:
    """The file's output, exit code, wall seconds and CPU seconds (user + system time of its
    process and of the processes it ran and waited for, as Linux's wait4 counts them: a
    figure that contention with the other job moves less than the wall time)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", os.path.relpath(path, ROOT), *pytest_args],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _, status, usage = os.wait4(process.pid, 0)
        output.seek(0)
        text = output.read()
    cpu = usage.ru_utime + usage.ru_stime
    return path, text, os.waitstatus_to_exitcode(status), time.perf_counter() - start, cpu


def main(argv: list[str]) -> int:
    compat = "--compat" in argv
    pytest_args = [a for a in argv if a != "--compat"]
    every_file = sorted(glob.glob(os.path.join(ROOT, "tests", "test_*.py")))
    names = {os.path.basename(p) for p in every_file}
    unknown = set(LONGEST) - names
    if unknown:
        raise SystemExit(f"LONGEST names files that are not in tests/: {sorted(unknown)}")
    paths = list(every_file)
    selections: dict[str, list[str]] = {}
    if compat:
        missing = set(COMPAT) - names
        if missing:
            raise SystemExit(f"COMPAT names files that are not in tests/: {sorted(missing)}")
        paths = [p for p in paths if os.path.basename(p) in COMPAT]
        for p in paths:
            if expression := COMPAT[os.path.basename(p)]:
                selections[p] = ["-k", expression]
    order = {name: i for i, name in enumerate(LONGEST)}
    paths.sort(key=lambda p: order.get(os.path.basename(p), len(order)))
    jobs = int(os.environ.get("ABBNN_TEST_JOBS", "2"))
    totals = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failed_files, timings, cpu_seconds = [], [], 0.0
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for future in concurrent.futures.as_completed(
            [pool.submit(_run, p, [*selections.get(p, []), *pytest_args]) for p in paths]
        ):
            path, output, returncode, seconds, cpu = future.result()
            cpu_seconds += cpu
            sys.stdout.write(output)
            sys.stdout.flush()
            last = output.splitlines()[-1] if output else ""
            counts = re.findall(r"(\d+) (passed|failed|errors?|skipped)", last)
            for count, kind in counts:
                totals["errors" if kind.startswith("error") else kind] += int(count)
            if returncode not in (0, 5):  # 5: every test of the file deselected
                failed_files.append(path)
                if all(kind in ("passed", "skipped") for _, kind in counts):
                    # a file that failed before any test ran (its imports, a conftest)
                    totals["errors"] += 1
            timings.append((seconds, cpu, os.path.basename(path)))
    print(
        "seconds per file (wall / CPU): "
        + ", ".join(f"{n} {s:.0f} / {c:.0f}" for s, c, n in sorted(timings)[::-1])
    )
    print(
        f"{totals['passed']} passed, {totals['failed'] + totals['errors']} failed, "
        f"{totals['skipped']} skipped in {time.perf_counter() - start:.0f} s "
        f"({cpu_seconds:.0f} CPU seconds)"
    )
    if failed_files:
        print("failed files: " + ", ".join(os.path.basename(p) for p in failed_files))
    return 1 if failed_files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
