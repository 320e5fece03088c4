"""Two TensorFlow stacks side by side: training, conversion and evaluation speed.

    python benchmarks/stacks.py --old VENV_215/bin/python --new VENV_221/bin/python
        [--rounds 3] [--steps 6] [--images DIR] [--convert-size 224]

Each interpreter is a virtual environment with larq-abbnn installed (the old one e.g.
`[tensorflow215]`, the new one `[tensorflow]`). One warm worker process per stack does the
work; the rounds interleave them (old, new, old, new, ...), so a busy machine slows both
alike. Measured, as the stack issue states them:
- training images/s of the CIFAR ABReActNet-18 (full width), step 1 and step 2, batch 64,
  2 threads (`benchmarks/training_throughput.py`'s `ours`: the train function `fit` runs);
- the time to fold and convert ABReActNetA (`converters.convert`, the model built fresh
  each round, its build not counted);
- `abbnn evaluate`'s images/s on an image folder's validation split (`--images`, e.g. the
  CIFAR-10 JPEGs: its last 10% of each class, `--limit` images), of one
  `.tflite` file (converted once, by the new stack) for both, so that only the stack
  differs: tf.data decoding and transforms, and LCE's interpreter on every core.
Prints each round, then the medians and new / old (target >= 0.95) as the median of the
rounds' own ratios: these hosts drift (measured: 41 -> 27 images/s between two rounds),
and a ratio within a round compares the stacks under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _worker() -> None:
    """Answers one JSON request per line on stdin with one JSON line on stdout."""
    from abbnn import stack

    stack.select()  # before TensorFlow loads
    import tensorflow as tf

    sys.path.insert(0, HERE)
    from training_throughput import _batches, ours

    from larq_abbnn import zoo
    from larq_abbnn.converters import convert

    out = sys.stdout
    sys.stdout = sys.stderr  # Keras's and the converter's prints stay off the protocol
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    trainers: dict[str, object] = {}
    for line in sys.stdin:
        request = json.loads(line)
        task = request["task"]
        if task == "version":
            answer = tf.__version__
        elif task == "train":
            key = f"{request['model']}-{request['step']}"
            if key not in trainers:
                trainers[key] = ours(request["model"], request["step"], _batches(64))
                trainers[key](3)  # tracing, allocation, first steps
            start = time.perf_counter()
            trainers[key](request["steps"])
            answer = request["steps"] * 64 / (time.perf_counter() - start)
        elif task == "convert":
            size = request["size"]
            model = zoo.ABReActNetA(input_shape=(size, size, 3))
            start = time.perf_counter()
            flatbuffer = convert(model)
            answer = time.perf_counter() - start
            if request.get("save"):
                with open(request["save"], "wb") as f:
                    f.write(flatbuffer)
            del model
            tf.keras.backend.clear_session()
        elif task == "evaluate":
            answer = _evaluate(request["model"], request["images"], request["limit"])
        else:
            raise ValueError(f"unknown task {task!r}")
        out.write(json.dumps(answer) + "\n")
        out.flush()


def _evaluate(model: str, images: str, limit: int) -> float:
    """`abbnn evaluate`'s own images/s figure, from its output."""
    result = subprocess.run(
        [sys.executable, "-m", "abbnn.cli", "evaluate", model, "--dataset", f"folder:{images}"]
        + ["--limit", str(limit)],
        capture_output=True,
        text=True,
    )
    found = re.search(r"\(([\d,]+) images/s\)", result.stdout)
    if result.returncode != 0 or not found:
        raise RuntimeError(f"abbnn evaluate failed: {result.stderr[-2000:]}")
    return float(found.group(1).replace(",", ""))


class _Stack:
    def __init__(self, python: str):
        self.process = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        self.version = self.ask(task="version")

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {request} ended (its stderr says why)")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--old", help="python of the old stack's venv (e.g. TensorFlow 2.15)")
    parser.add_argument("--new", help="python of the new stack's venv (e.g. TensorFlow 2.21)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6, help="timed training steps per round")
    parser.add_argument("--images", help="image folder for `abbnn evaluate` (one class a folder)")
    parser.add_argument("--limit", type=int, default=5000, help="images per evaluation")
    parser.add_argument("--convert-size", type=int, default=224)
    parser.add_argument(
        "--only", choices=["train", "convert", "evaluate"], help="one kind of measurement"
    )
    args = parser.parse_args()
    if args.worker:
        return _worker()
    if not (args.old and args.new):
        parser.error("--old and --new name the two stacks' interpreters")
    stacks = {"old": _Stack(args.old), "new": _Stack(args.new)}
    tasks = {
        "train A&B step 1 (images/s)": dict(task="train", model="ab_reactnet18", step=1),
        "train A&B step 2 (images/s)": dict(task="train", model="ab_reactnet18", step=2),
        f"convert ReActNet-A {args.convert_size} px (s)": dict(
            task="convert", size=args.convert_size
        ),
    }
    for request in tasks.values():
        if request["task"] == "train":
            request["steps"] = args.steps
    if args.only:
        tasks = {n: r for n, r in tasks.items() if r["task"] == args.only}
    with tempfile.TemporaryDirectory() as tmp:
        if args.images and args.only in (None, "evaluate"):
            tflite = os.path.join(tmp, "ab_reactnet18.tflite")
            code = (
                "import larq_abbnn, sys; from larq_abbnn import zoo; "
                "from larq_abbnn.converters import convert; "
                "m = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10); "
                "open(sys.argv[1], 'wb').write(convert(m))"
            )
            subprocess.run([args.new, "-c", code, tflite], check=True, capture_output=True)
            tasks["abbnn evaluate (images/s)"] = dict(
                task="evaluate", model=tflite, images=args.images, limit=args.limit
            )
        values = {name: {s: [] for s in stacks} for name in tasks}
        for r in range(args.rounds):
            for name, request in tasks.items():
                for s, stack in stacks.items():
                    values[name][s].append(stack.ask(**request))
            print(
                f"round {r + 1}/{args.rounds}: "
                + "; ".join(
                    f"{n}: old {v['old'][-1]:.1f}, new {v['new'][-1]:.1f}"
                    for n, v in values.items()
                ),
                flush=True,
            )
    for stack in stacks.values():
        stack.close()
    old, new = stacks["old"].version, stacks["new"].version
    print(
        f"\nmedians of {args.rounds} interleaved rounds; new / old: the median of the rounds' "
        "ratios, higher is better (>= 0.95)"
    )
    print(f"| measure | TF {old} | TF {new} | new / old | rounds' ratios |")
    print("|---|---:|---:|---:|---|")
    for name, v in values.items():
        seconds = name.endswith("(s)")  # lower is better
        ratios = [o / n if seconds else n / o for o, n in zip(v["old"], v["new"])]
        print(
            f"| {name} | {statistics.median(v['old']):,.1f} | {statistics.median(v['new']):,.1f} "
            f"| {statistics.median(ratios):.2f} | {', '.join(f'{r:.2f}' for r in ratios)} |"
        )


if __name__ == "__main__":
    main()
