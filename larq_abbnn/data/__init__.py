"""Training and evaluation data: tfds datasets and image folders with the paper's transforms.

```python
from larq_abbnn import data

d = data.load("cifar10", batch_size=256)                 # tfds, downloads once
d = data.load("folder:/data/cifar10-jpeg")               # ROOT/<class>/*.jpg
model.fit(d.train, validation_data=d.validation, epochs=...)
logits = model(data.preprocess_input(uint8_images))     # what every model takes
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
from larq_abbnn.data.transforms import preprocess_input

__all__ = ["ALIASES", "TFDS", "Data", "DataError", "load", "preprocess_input"]

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
        raise DataError(  # the names the CLI's help uses (imagenet, not tfds's imagenet2012)
            f"unknown dataset {name!r}: use one of {', '.join(DATASETS)} or folder:PATH"
        )
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
    # tfds.load's own steps (builder, download_and_prepare, as_dataset), so that a
    # download that cannot happen is said before tfds spends minutes retrying it
    builder = tfds.builder(name, data_dir=data_dir)
    where = data_dir or "~/tensorflow_datasets"
    if not builder.is_prepared():
        _check_downloadable(name, builder, where, manual_dir)
        config = tfds.download.DownloadConfig(manual_dir=manual_dir)
        download = tfds.core.download
        wrong_archive = (
            download.download_manager.NonMatchingChecksumError,
            download.extractor.ExtractError,
        )
        try:
            builder.download_and_prepare(download_config=config)
        except (OSError, AssertionError, *wrong_archive) as error:
            # OSError: requests' ConnectionError after tfds's retries, a full disk;
            # AssertionError: ImageNet's manual folder missing or empty; a file in
            # --manual-dir that is not the dataset's archive: its checksum (tfds 4.9.10),
            # or, where tfds takes it unchecked (4.9.3), its extraction
            source = f" from {manual_dir}" if manual_dir else ""
            raise DataError(
                f"{name} is not prepared in {where} and could not be prepared{source} "
                f"({_first_line(error)}). {_HOW_TO_GIVE_A_COPY}"
            ) from error
    train, validation = builder.as_dataset(split=["train", eval_split], as_supervised=True)
    info = builder.info
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


_HOW_TO_GIVE_A_COPY = (
    "Give a local copy: --data-dir DIR holding the prepared dataset (tfds's folder from a "
    "machine that downloaded it), --manual-dir DIR holding its archive, or an image folder "
    "(--dataset folder:PATH)"
)


def _first_line(error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _check_downloadable(name: str, builder, where: str, manual_dir: str | None) -> None:
    """Raise `DataError` at once if a file tfds would download for `name` is neither in
    `manual_dir` nor on a host this machine reaches. tfds's downloader retries an
    unreachable host ten times with backoff (measured: 3.5 minutes offline) before its
    `ConnectionError`; one connection attempt per host tells the same in a second, and a
    reachable host leaves tfds's retries for real transfers. Datasets that tfds cannot
    download (ImageNet: manual archives) are left to tfds, which says what it needs."""
    import socket
    from urllib.parse import urlparse

    if getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None):
        return
    for url, info in (type(builder).url_infos or {}).items():
        filename = info.filename or os.path.basename(urlparse(url).path)
        if manual_dir and os.path.isfile(os.path.join(manual_dir, filename)):
            continue
        parsed = urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=10).close()
        except OSError as error:
            raise DataError(
                f"{name} is not prepared in {where} and needs a download of {filename} "
                f"from {parsed.hostname}, which this machine cannot reach "
                f"({_first_line(error)}). {_HOW_TO_GIVE_A_COPY}"
            ) from None


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
