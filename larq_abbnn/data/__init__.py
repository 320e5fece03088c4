"""Training and evaluation data: tfds datasets and image folders with the paper's transforms.

```python
from larq_abbnn import data

d = data.load("cifar10", batch_size=256)                 # tfds, downloads once
d = data.load("folder:/data/cifar10-jpeg")               # ROOT/<class>/*.jpg
model.fit(d.train, validation_data=d.validation, epochs=...)
```
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import tensorflow as tf

from abbnn.recipe import DATASETS, stem_for
from larq_abbnn.data import folders, transforms
from larq_abbnn.data.folders import DataError

#: tfds name -> (classes, stem, evaluation split), from `abbnn.recipe.DATASETS`
TFDS = {tfds: (classes, stem, split) for tfds, classes, stem, _, split in DATASETS.values()}
#: What `abbnn` and the zoo call the paper's datasets, where tfds calls them otherwise.
ALIASES = {name: row[0] for name, row in DATASETS.items() if row[0] != name}


@dataclass
class Data:
    """Batched train/validation datasets of (image, label) and what describes them."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    num_classes: int
    stem: str
    image_size: int
    train_examples: int
    validation_examples: int
    batch_size: int
    skipped: int = 0
    #: what `load` was given (`cifar10`, `folder:PATH`), and what the validation split is
    name: str = ""
    validation_split: str = "validation"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)


def load(
    dataset: str,
    *,
    batch_size: int = 256,
    image_size: int | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    validation_fraction: float = 0.1,
    skip_corrupt: bool = False,
    seed: int = 2023,
) -> Data:
    """The paper's pipelines for `cifar10`, `cifar100`, `imagenet2012` or `folder:PATH`.

    tfds datasets are read from (or downloaded to) `data_dir`; ImageNet needs its
    archives in `manual_dir` as tfds documents (default `<data_dir>/downloads/manual`).
    An image folder uses `PATH/train` and `PATH/test` when both exist, otherwise the last
    `validation_fraction` of every class (sorted file names) is the validation split.
    Small images (<= 64 px) get the CIFAR transforms, larger ones ImageNet's.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    name = ALIASES.get(dataset, dataset)
    if name.startswith("folder:"):
        data = _load_folder(
            name[len("folder:") :],
            batch_size,
            image_size,
            validation_fraction,
            skip_corrupt,
            seed,
        )
    elif name not in TFDS:
        raise DataError(f"unknown dataset {name!r}: use one of {', '.join(TFDS)} or folder:PATH")
    else:
        data = _load_tfds(name, batch_size, image_size, data_dir, manual_dir, seed)
    return dataclasses.replace(data, name=dataset)


def _pipelines(train, validation, stem, size, batch_size, seed, train_examples):
    train_fn, test_fn = transforms.TRANSFORMS[stem]
    autotune = tf.data.AUTOTUNE
    train = (
        train.shuffle(min(train_examples, 20_000), seed=seed, reshuffle_each_iteration=True)
        .map(lambda x, y: (train_fn(x, size), y), num_parallel_calls=autotune)
        .batch(batch_size)
        .prefetch(autotune)
    )
    validation = (
        validation.map(lambda x, y: (test_fn(x, size), y), num_parallel_calls=autotune)
        .batch(batch_size)
        .prefetch(autotune)
    )
    return train, validation


def _load_tfds(name, batch_size, image_size, data_dir, manual_dir, seed) -> Data:
    import tensorflow_datasets as tfds  # slow import; only tfds users pay for it

    num_classes, stem, eval_split = TFDS[name]
    kwargs = {}
    if manual_dir is not None:
        kwargs["download_and_prepare_kwargs"] = {
            "download_config": tfds.download.DownloadConfig(manual_dir=manual_dir)
        }
    try:
        (train, validation), info = tfds.load(
            name,
            split=["train", eval_split],
            data_dir=data_dir,
            as_supervised=True,
            with_info=True,
            **kwargs,
        )
    except OSError as error:  # requests' ConnectionError after tfds's retries, a full disk
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise DataError(
            f"{name} is not prepared in {data_dir or '~/tensorflow_datasets'} and could not "
            f"be downloaded ({type(error).__name__}: {first}). Prepare it where --data-dir "
            "points, or train on an image folder (folder:PATH)"
        ) from error
    n_train = _num_examples(info, "train", train)
    n_val = _num_examples(info, eval_split, validation)
    if stem == "cifar":  # 32x32 uint8: 150 MB for CIFAR's train split, decoded once
        train, validation = train.cache(), validation.cache()
    size = image_size or (32 if stem == "cifar" else 224)
    train, validation = _pipelines(train, validation, stem, size, batch_size, seed, n_train)
    return Data(
        train, validation, num_classes, stem, size, n_train, n_val, batch_size,
        validation_split=eval_split,
    )  # fmt: skip


def _num_examples(info, split: str, dataset: tf.data.Dataset) -> int:
    try:
        return info.splits[split].num_examples
    except KeyError:  # no split metadata (e.g. tfds.testing.mock_data): count
        n = int(dataset.cardinality())
        return n if n >= 0 else int(dataset.reduce(0, lambda count, _: count + 1))


def _load_folder(root, batch_size, image_size, validation_fraction, skip_corrupt, seed) -> Data:
    root = os.path.expanduser(root)
    train_dir, test_dir = os.path.join(root, "train"), os.path.join(root, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        train = folders.scan(train_dir, skip_corrupt)
        validation = folders.scan(test_dir, skip_corrupt)
        split = "test"
        if validation.class_names != train.class_names:
            raise DataError(
                f"{test_dir} and {train_dir} have different class folders: "
                f"{validation.class_names} vs {train.class_names}"
            )
    else:
        folder = folders.scan(train_dir if os.path.isdir(train_dir) else root, skip_corrupt)
        train, validation = folders.holdout(folder, validation_fraction)
        split = f"last {validation_fraction:g} of each class"
    train_ds, n_train = folders.decoded_dataset(train, skip_corrupt)
    val_ds, n_val = folders.decoded_dataset(validation, skip_corrupt)
    skipped = len(set(train.skipped) | set(validation.skipped))
    if skipped:
        print(f"data: skipped {skipped} unreadable image file(s) under {root}")
    first = next(iter(val_ds.take(1)))[0]
    stem = stem_for(int(first.shape[0]), int(first.shape[1]))
    size = image_size or (int(first.shape[0]) if stem == "cifar" else 224)
    train_ds, val_ds = _pipelines(train_ds, val_ds, stem, size, batch_size, seed, n_train)
    return Data(
        train_ds, val_ds, len(train.class_names), stem, size, n_train, n_val, batch_size, skipped,
        validation_split=split,
    )  # fmt: skip
