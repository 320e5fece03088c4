"""Training throughput: images/s of `model.fit` steps with the paper's optimizer.

    python benchmarks/training_throughput.py [--batch-size 64] [--steps 10]

Measures, in one process and on the same random CIFAR-sized batches, ABReActNet18 (CIFAR
stem, the paper's width) at step 1 and step 2 and BNFreeReActNet18 at step 2, each
compiled with `training.compile_for_step` (AGC, L2, linear decay). Prints images/s, the
ratio to ABReActNet18 step 2, and the ratio to the authors' PyTorch code, which trains
about 41 images/s on this machine kind (2 cores; target: >= 1.0).
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from larq_abbnn import training, zoo

AUTHORS_IMAGES_PER_SECOND = 41.0


def images_per_second(model_fn, step, batch_size, steps, warmup=3) -> float:
    tf.keras.utils.set_random_seed(0)
    model = model_fn((32, 32, 3), 10, step=step)
    model = training.compile_for_step(
        model, step=step, stem="cifar", epochs=1, steps_per_epoch=warmup + steps
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * batch_size, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 4 * batch_size)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache().repeat()
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)  # tracing, first steps
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    rows = [
        ("ABReActNet18 step 2", zoo.ABReActNet18, 2),
        ("ABReActNet18 step 1", zoo.ABReActNet18, 1),
        ("BNFreeReActNet18 step 2", zoo.BNFreeReActNet18, 2),
    ]
    results = [
        (name, images_per_second(fn, s, args.batch_size, args.steps)) for name, fn, s in rows
    ]
    reference = results[0][1]
    print(f"training throughput, CIFAR stem, batch {args.batch_size}, {args.steps} timed steps")
    print(f"{'model':26s} {'images/s':>9s} {'vs A&B step 2':>14s} {'vs authors (41/s)':>18s}")
    for name, ips in results:
        print(
            f"{name:26s} {ips:9.1f} {ips / reference:14.2f} "
            f"{ips / AUTHORS_IMAGES_PER_SECOND:18.2f}"
        )


if __name__ == "__main__":
    main()
