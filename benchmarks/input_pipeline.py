"""ImageNet-style input pipeline against torchvision's, on the same JPEGs, side by side.

    python benchmarks/input_pipeline.py [--reference PATH] [--images 320] [--workers 2]
        [--rounds 3]

Writes `--images` JPEGs of 500x375 (CIFAR-like content upscaled, so they compress like
photos) into a temporary folder `train/<class>/`, `test/<class>/`, then times, in
interleaved rounds, images/s of one pass over each split (a new iterator per pass, so
neither pipeline prefetches while the other is timed), of:
- ours: `larq_abbnn.data.load("folder:...")` streaming from disk (decode, random-resized
  crop 0.08-1, PCA lighting 0.1, flip, normalize; test resize 256 / center crop 224), with
  tf.data's thread pool limited to `--workers`;
- torchvision: `ImageFolder` + `DataLoader(num_workers=--workers)` with the transforms of
  the authors' Train_ImageNet notebooks (their `Lighting` from PATH/Network/utils.py when
  `--reference` is a checkout of github.com/Ruichen0424/AB-BNN).
PyTorch/torchvision are installed by hand (not dependencies). Prints the median images/s
and ours / torchvision per split (target >= 1.0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from abbnn import stack


def write_jpegs(root: str, count: int) -> None:
    """`count` 500x375 JPEGs in 4 classes, half under train/ and half under test/.

    Each pass must last long enough for tf.data's autotuning of a fresh iterator: passes
    of 160 test images (a 20% split) took a third of a second and measured 249 or 495
    images/s, bimodally, with the same code.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for i in range(count):
        split = "test" if (i // 4) % 2 == 0 else "train"
        folder = os.path.join(root, split, f"class{i % 4}")
        os.makedirs(folder, exist_ok=True)
        small = rng.integers(0, 256, (12, 16, 3)).astype(np.float32)
        image = tf.image.resize(small[None], (375, 500), method="bicubic")[0]
        image = image + rng.normal(0, 8, image.shape)  # texture, as in photos
        pixels = tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8)
        jpeg = tf.io.encode_jpeg(pixels, quality=90).numpy()
        with open(os.path.join(folder, f"{i:05d}.jpg"), "wb") as f:
            f.write(jpeg)


def ours(root: str, batch_size: int, workers: int):
    import tensorflow as tf

    from larq_abbnn import data
    from larq_abbnn.data import folders

    # ImageNet does not fit in memory: stream and decode every epoch, as it would.
    folders.CACHE_BYTES = 0
    d = data.load(f"folder:{root}", batch_size=batch_size)
    assert d.stem == "imagenet" and d.image_size == 224, (d.stem, d.image_size)
    options = tf.data.Options()
    options.threading.private_threadpool_size = workers
    splits = {"train": d.train.with_options(options), "test": d.validation.with_options(options)}

    def run(split: str) -> int:
        """One pass over the split with a new iterator (nothing prefetched before)."""
        return sum(int(x.shape[0]) for x, _ in splits[split])

    return run


def torchvision_loader(root: str, batch_size: int, workers: int, reference: str | None):
    import torch
    from torchvision import datasets, transforms

    if reference:
        sys.path.insert(0, os.path.abspath(reference))
        from Network.utils import Lighting

        lighting = [Lighting(0.1)]
    else:
        lighting = []
    normalize = transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    train = datasets.ImageFolder(
        os.path.join(root, "train"),
        transforms.Compose(
            [
                transforms.RandomResizedCrop(224, scale=(0.08, 1.0)),
                *lighting,
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                normalize,
            ]
        ),
    )
    test = datasets.ImageFolder(
        os.path.join(root, "test"),
        transforms.Compose(
            [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), normalize]
        ),
    )
    loaders = {
        "train": torch.utils.data.DataLoader(
            train, batch_size=batch_size, shuffle=True, num_workers=workers
        ),
        "test": torch.utils.data.DataLoader(test, batch_size=batch_size, num_workers=workers),
    }

    def run(split: str) -> int:
        """One pass over the split; the workers start and stop with it."""
        return sum(int(x.shape[0]) for x, _ in loaders[split])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default=None, help="checkout of Ruichen0424/AB-BNN")
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # the DataLoader's workers are the parallelism
    with tempfile.TemporaryDirectory() as root:
        write_jpegs(root, args.images)
        contestants = {
            "ours (tf.data)": ours(root, args.batch_size, args.workers),
            "torchvision": torchvision_loader(root, args.batch_size, args.workers, args.reference),
        }
        for run in contestants.values():  # first pass: tracing, file cache
            run("test")
        rates = {(n, s): [] for n in contestants for s in ("train", "test")}
        for r in range(args.rounds):
            for split in ("train", "test"):
                for name, run in contestants.items():
                    start = time.perf_counter()
                    seen = run(split)
                    rates[name, split].append(seen / (time.perf_counter() - start))
            print(
                f"round {r + 1}/{args.rounds}: "
                + ", ".join(f"{n} {s} {v[-1]:.0f}" for (n, s), v in rates.items()),
                flush=True,
            )
    median = {key: statistics.median(v) for key, v in rates.items()}
    print(
        f"\n{args.images} JPEGs 500x375, batch {args.batch_size}, {args.workers} workers, "
        f"median images/s of {args.rounds} interleaved rounds"
    )
    print(f"{'split':6s} {'ours':>8s} {'torchvision':>12s} {'ours/torchvision':>17s}")
    for split in ("train", "test"):
        a, b = median["ours (tf.data)", split], median["torchvision", split]
        print(f"{split:6s} {a:8.0f} {b:12.0f} {a / b:17.2f}  (target >= 1.0)")


if __name__ == "__main__":
    stack.select()  # before TensorFlow loads (abbnn/stack.py)
    main()
