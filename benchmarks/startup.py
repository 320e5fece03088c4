"""Start-up as a user meets it (issue 35): `abbnn train` from launch to its first finished
batch, the whole small command, and `abbnn demo` from launch to exit.

    python benchmarks/startup.py [--against PATH] [--rounds 3] [--images FOLDER]

Each command runs in a fresh process, as typed. `--against PATH` also runs every command
with another checkout of larq-abbnn first on `PYTHONPATH` (e.g. `git worktree add
/tmp/before HEAD~3`), interleaved with this one in every round so that a busy machine
slows both alike, and prints the ratios this / PATH. The train command is the smallest
one (width 0.125, batch 8, one step of one epoch), so its time is the start-up: imports,
the model's build, tracing and compiling the train step. The time of the first batch
comes from a callback added in the child (the only change to the command), which prints
the monotonic clock when batch 0 ends. Without `--images` the train command reads 30 random
PNGs (3 classes) and the demo its own random data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import host

#: run in the child: `abbnn` as typed, plus a callback printing when batch 0 ends
CHILD = """
import sys, time
from abbnn import stack
# select_keras_2() before issue 35 turned TensorFlow's oneDNN on: --against older checkouts
(getattr(stack, "select", None) or stack.select_keras_2)()
import tensorflow as tf
from larq_abbnn.training import run


class FirstBatch(tf.keras.callbacks.Callback):
    seen = False

    def on_train_batch_end(self, batch, logs=None):
        if not FirstBatch.seen:
            FirstBatch.seen = True
            print(f"FIRST-BATCH {time.monotonic()}", flush=True)


callbacks = run._run_callbacks
run._run_callbacks = lambda folder: [*callbacks(folder), FirstBatch()]
from abbnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _random_images(root: str) -> str:
    import numpy as np
    from matplotlib.image import imsave

    rng = np.random.default_rng(0)
    for c in range(3):
        os.makedirs(os.path.join(root, f"class{c}"))
        for i in range(10):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            imsave(os.path.join(root, f"class{c}", f"{i}.png"), pixels)
    return root


def _run(argv: list[str], checkout: str | None, folder: str) -> tuple[float, float | None]:
    """(seconds to exit, seconds to the first batch or None) of one command."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if checkout:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [checkout, env.get("PYTHONPATH")]))
    # the monotonic clock (Linux's CLOCK_MONOTONIC), which parent and child share: the wall
    # clock can be stepped while a command runs (a run here put the first batch at 34.7 s of
    # an 18.8 s command)
    start_clock, start = time.monotonic(), time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], cwd=folder, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"abbnn {' '.join(argv)} failed ({checkout or 'this checkout'}):\n"
                         f"{result.stderr[-3000:]}")  # fmt: skip
    first = [line for line in result.stdout.splitlines() if line.startswith("FIRST-BATCH ")]
    return seconds, (float(first[0].split()[1]) - start_clock) if first else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="another checkout, run interleaved with this one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", help="image folder for train and demo (default: random)")
    args = parser.parse_args()
    print(f"host: {host.describe()}")
    checkouts = {
        "this": None,
        **({"against": os.path.abspath(args.against)} if args.against else {}),
    }
    with tempfile.TemporaryDirectory() as scratch:
        images = args.images or _random_images(os.path.join(scratch, "images"))
        commands = {
            "train": ["train", "--dataset", f"folder:{images}", "--step", "1", "--epochs", "1",
                      "--steps-per-epoch", "1", "--batch-size", "8", "--width-multiplier",
                      "0.125", "--verbose", "0"],
            "demo": ["demo", *(["--images", images] if args.images else [])],
        }  # fmt: skip
        times: dict[tuple[str, str], list[float]] = {}
        for r in range(args.rounds):
            for command, argv in commands.items():
                for name, checkout in checkouts.items():
                    folder = tempfile.mkdtemp(dir=scratch)
                    seconds, first = _run(argv, checkout, folder)
                    times.setdefault((command, name), []).append(seconds)
                    if first is not None:
                        times.setdefault(("first batch", name), []).append(first)
                    at = f", first batch at {first:.1f} s" if first else ""
                    print(f"round {r + 1}: {command} ({name}) {seconds:.1f} s{at}", flush=True)
    print(f"\nmedian of {args.rounds} rounds, seconds from launch (host: {host.describe()})")
    rows = ("first batch", "train", "demo")
    print(
        f"{'':28s}"
        + "".join(f"{n:>10s}" for n in checkouts)
        + ("  this/against" if args.against else "")
    )
    for row in rows:
        medians = [statistics.median(times[(row, n)]) for n in checkouts]
        label = {"first batch": "train: first batch", "train": "train: whole command",
                 "demo": "demo"}[row]  # fmt: skip
        line = f"{label:28s}" + "".join(f"{m:10.1f}" for m in medians)
        if args.against:
            line += f"{medians[0] / medians[1]:14.2f}"
        print(line)


if __name__ == "__main__":
    main()
