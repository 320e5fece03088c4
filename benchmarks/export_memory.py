"""Peak memory of `abbnn convert` to each format, side by side (issue 33: the QONNX export
should peak no higher than the TFLite conversion of the same model).

    python benchmarks/export_memory.py [--models ab_reactnet18 ab_reactneta] [--rounds 1]

For each zoo model at 224 px, runs `abbnn convert zoo:MODEL -o m.tflite` and `-o m.onnx`
as a user does, each in a fresh process, the two formats interleaved in each round, and
prints each command's peak resident memory (the child's own `ru_maxrss`, from `wait4`),
its wall time, the file's size and the ratio QONNX / TFLite of the peaks. The CPU model is
printed first: figures from different hosts are not one series.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import host

FORMATS = (".tflite", ".onnx")


def _convert(model: str, output: str) -> tuple[float, float]:
    """(peak RSS in GB, seconds) of one `abbnn convert` in a fresh process."""
    command = [sys.executable, "-m", "abbnn", "convert", f"zoo:{model}", "-o", output]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()}")
    child.stderr.close()
    return usage.ru_maxrss / 2**20, seconds  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["ab_reactnet18", "ab_reactneta"])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    print(f"host: {host.describe()}; zoo models at 224 px")
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models:
            peaks = {suffix: [] for suffix in FORMATS}
            for _ in range(args.rounds):
                for suffix in FORMATS:
                    output = os.path.join(folder, f"{model}{suffix}")
                    gb, seconds = _convert(model, output)
                    peaks[suffix].append(gb)
                    print(
                        f"abbnn convert zoo:{model} -o m{suffix}: peak {gb:.2f} GB, "
                        f"{seconds:.1f} s, {os.path.getsize(output) / 1e6:.1f} MB",
                        flush=True,
                    )
            onnx, tflite = (statistics.median(peaks[s]) for s in (".onnx", ".tflite"))
            print(f"{model}: peak QONNX / TFLite = {onnx / tflite:.2f} (target <= 1)")


if __name__ == "__main__":
    main()
