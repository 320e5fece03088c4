"""Training throughput against the authors' PyTorch code, measured side by side.

    python benchmarks/training_throughput.py [--reference PATH] [--batch-size 64]
        [--steps 6] [--rounds 5] [--threads 2]

PATH is a checkout of github.com/Ruichen0424/AB-BNN; PyTorch must be installed by hand
(`pip install torch`, not a dependency of larq-abbnn). Without it only our rows run.

Every contestant trains the paper's CIFAR ReActNet-18 (full width) on the same random
batches, in one process and in interleaved rounds, so that a busy machine slows them
alike:
- ours: ABReActNet18 step 1 and step 2 and BNFreeReActNet18 step 2, compiled with
  `training.compile_for_step` (AGCAdam, L2, linear decay, accuracy and top-5), run by the
  same train function `model.fit` calls once per batch;
- theirs: `Network.ReActNet_18_Qa/Qaw.ResNet18(imagenet=False)` with the loop of their
  Train_Cifar_step1/2 notebooks (cross-entropy, top-1/top-5 counts, backward,
  `adaptive_clip_grad(..., 0.001)` on all but `fc`, `torch.optim.Adam` with L2 on the 4-D
  parameters).
Prints the median images/s over the rounds and the ratios the targets are stated in:
ours / theirs per step (target >= 1.2) and A&B step 2 / BN-Free step 2 (target >= 0.95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import host
import numpy as np

from abbnn import stack

BATCHES = 4  # distinct batches, cycled


def _batches(batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (
            rng.normal(size=(batch_size, 32, 32, 3)).astype(np.float32),
            rng.integers(0, 10, batch_size).astype(np.int64),
        )
        for _ in range(BATCHES)
    ]


def ours(name: str, step: int, batches) -> Callable[[int], None]:
    """`run(n)`: n training steps of our model through Keras's train function."""
    import tensorflow as tf

    from larq_abbnn import training, zoo

    tf.keras.utils.set_random_seed(0)
    model = zoo.get(name)(input_shape=(32, 32, 3), num_classes=10, step=step)
    fit_model = training.compile_for_step(
        model, step=step, stem="cifar", epochs=1, steps_per_epoch=1000
    )
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(len(batches[0][1]))
    iterator = iter(dataset.cache().repeat())
    train_function = fit_model.make_train_function()

    def run(n: int) -> None:
        for _ in range(n):
            logs = train_function(iterator)
        float(logs["loss"])  # wait for the last step

    return run


def theirs(reference: str, step: int, batches) -> Callable[[int], None]:
    """`run(n)`: n steps of the authors' notebook loop on their ReActNet-18."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.abspath(reference))
    from Network import ReActNet_18_Qa, ReActNet_18_Qaw
    from Network.utils import adaptive_clip_grad

    torch.manual_seed(2023)
    module = ReActNet_18_Qa if step == 1 else ReActNet_18_Qaw
    net = module.ResNet18(num_classes=10, imagenet=False)
    net.train()
    named = list(net.named_parameters())
    decayed = [p for n, p in named if (p.ndimension() == 4 or "conv" in n) and "L_alpha" not in n]
    others = [p for _, p in named if all(p is not q for q in decayed)]
    optimizer = torch.optim.Adam(
        [
            {"params": others, "weight_decay": 0.0},
            {"params": decayed, "weight_decay": 5e-6 if step == 1 else 0.0},
        ],
        lr=1e-3,
    )
    clipped = [p for n, p in named if "fc" not in n]
    data = [
        (torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y))
        for x, y in batches
    ]
    position = [0]

    def run(n: int) -> None:
        for _ in range(n):
            img, label = data[position[0] % len(data)]
            position[0] += 1
            out = net(img)
            loss = F.cross_entropy(out, label)
            (out.argmax(1) == label).float().sum().item()
            _, pred = out.topk(5, 1, True, True)
            torch.eq(pred, label.view(-1, 1)).float().sum().item()
            optimizer.zero_grad()
            loss.backward()
            adaptive_clip_grad(clipped, clip_factor=0.001)
            optimizer.step()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=None, help="checkout of Ruichen0424/AB-BNN")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="threads of both frameworks")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(f"host: {host.describe()}", flush=True)
    batches = _batches(args.batch_size)
    contestants = {
        "ours A&B step 1": ours("ab_reactnet18", 1, batches),
        "ours A&B step 2": ours("ab_reactnet18", 2, batches),
        "ours BN-Free step 2": ours("bnfree_reactnet18", 2, batches),
    }
    if args.reference:
        import torch

        torch.set_num_threads(args.threads)
        contestants["authors A&B step 1"] = theirs(args.reference, 1, batches)
        contestants["authors A&B step 2"] = theirs(args.reference, 2, batches)
    for run in contestants.values():
        run(args.warmup)  # tracing, allocation, first steps
    rates: dict[str, list[float]] = {name: [] for name in contestants}
    for r in range(args.rounds):
        for name, run in contestants.items():
            start = time.perf_counter()
            run(args.steps)
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))
        print(
            f"round {r + 1}/{args.rounds}: "
            + ", ".join(f"{n} {v[-1]:.1f}" for n, v in rates.items()),
            flush=True,
        )
    median = {name: statistics.median(v) for name, v in rates.items()}
    print(
        f"\nCIFAR ReActNet-18, batch {args.batch_size}, {args.threads} threads, median of "
        f"{args.rounds} interleaved rounds of {args.steps} steps; host: {host.describe()}"
    )
    print(f"{'contestant':24s} {'images/s':>9s}")
    for name, value in median.items():
        print(f"{name:24s} {value:9.1f}")
    print()
    ab_vs_bnfree = median["ours A&B step 2"] / median["ours BN-Free step 2"]
    print(f"A&B step 2 / BN-Free step 2 (ours): {ab_vs_bnfree:.2f}  (target >= 0.95)")
    if args.reference:
        for step in (1, 2):
            ratio = median[f"ours A&B step {step}"] / median[f"authors A&B step {step}"]
            print(f"ours / authors, step {step}:            {ratio:.2f}  (target >= 1.2)")


if __name__ == "__main__":
    stack.select()  # before TensorFlow loads (abbnn/stack.py)
    main()
