"""Image folders: `ROOT/<class>/*.jpg`, optionally split as `ROOT/train/` and `ROOT/test/`.

Keras's `image_dataset_from_directory` resizes every image to one size on load, which
would defeat the random-resized crop, and it reports a corrupt file only as a TensorFlow
error without its path. So files are listed and checked here (header bytes, and for data
small enough to cache, a full decode) and decoded with tf.io inside tf.data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from abbnn.inputs import require

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

#: Leading bytes of the formats `tf.io.decode_image` reads.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF87a", b"GIF89a")

#: Decoded datasets up to this size are decoded once and kept in memory.
CACHE_BYTES = 2 * 1024**3


class DataError(ValueError):
    """A dataset that cannot be read as asked; the message names the path."""


@dataclass
class ImageFolder:
    """The files and labels of one split, classes in sorted folder order."""

    root: str
    class_names: list[str]
    paths: list[str]
    labels: list[int]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices) -> ImageFolder:
        indices = list(indices)
        return ImageFolder(
            self.root,
            self.class_names,
            [self.paths[i] for i in indices],
            [self.labels[i] for i in indices],
            self.skipped,
        )


def _looks_like_image(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return any(head.startswith(magic) for magic in _MAGIC)


def scan(root: str, skip_corrupt: bool = False) -> ImageFolder:
    """List `root/<class>/<image>`; every class folder must hold at least one image."""
    require(root, "image folder", DataError)
    class_names = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not class_names:
        raise DataError(
            f"image folder {root} has no class sub-folders: expected {root}/<class>/<image>"
        )
    if len(class_names) < 2:  # one class trains to a meaningless 100%
        raise DataError(
            f"image folder {root} has one class folder ({class_names[0]}): a classifier "
            "needs at least 2, one folder per class"
        )
    paths, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(root, name)
        files = sorted(
            os.path.join(folder, f)
            for f in os.listdir(folder)
            if f.lower().endswith(IMAGE_EXTENSIONS)
        )
        if not files:
            raise DataError(
                f"class folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        for path in files:
            if _looks_like_image(path):
                paths.append(path)
                labels.append(label)
            elif skip_corrupt:
                skipped.append(path)
            else:
                raise DataError(
                    f"{path} is not a readable image (pass --skip-corrupt to skip such files)"
                )
    return ImageFolder(root, class_names, paths, labels, skipped)


def holdout(folder: ImageFolder, fraction: float) -> tuple[ImageFolder, ImageFolder]:
    """A fixed validation split: the last `fraction` of every class's sorted files."""
    if not 0 < fraction < 1:
        raise DataError(f"validation fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(folder.labels)
    train, val = [], []
    for label in range(len(folder.class_names)):
        indices = np.flatnonzero(labels == label)
        n_val = int(round(len(indices) * fraction))
        if n_val == 0 or n_val == len(indices):
            raise DataError(
                f"class folder {folder.class_names[label]!r} in {folder.root} has "
                f"{len(indices)} images: too few to hold out {fraction:.0%} for validation"
            )
        train.extend(indices[:-n_val])
        val.extend(indices[-n_val:])
    # Classes interleaved in a fixed order, so a partial evaluation sees every class.
    val = np.random.default_rng(0).permutation(val)
    return folder.subset(train), folder.subset(val)


def _decode(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


def decoded_dataset(folder: ImageFolder, skip_corrupt: bool = False) -> tuple[tf.data.Dataset, int]:
    """(uint8 image, label) pairs and their number; decoded once and cached when small.

    Caching decodes every file up front, which is also where a file with a valid header
    but broken content is found and named (or skipped with `skip_corrupt`).
    """
    total = sum(os.path.getsize(p) for p in folder.paths)
    paths = tf.data.Dataset.from_tensor_slices(folder.paths)
    labels = tf.data.Dataset.from_tensor_slices(np.asarray(folder.labels, np.int64))
    if total * 8 > CACHE_BYTES:  # JPEGs decode to roughly 10x: stream from disk
        images = paths.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
        return tf.data.Dataset.zip((images, labels)), len(folder)

    indexed = tf.data.Dataset.zip((tf.data.Dataset.range(len(folder)), paths)).map(
        lambda i, p: (i, _decode(p)), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    indexed = indexed.ignore_errors()
    kept, images = [], []
    for i, image in indexed.as_numpy_iterator():
        kept.append(int(i))
        images.append(image)
    if len(kept) < len(folder):
        bad = sorted(set(range(len(folder))) - set(kept))
        names = [folder.paths[i] for i in bad]
        if not skip_corrupt:
            raise DataError(
                f"{len(names)} image file(s) cannot be decoded, first {names[0]} "
                "(pass --skip-corrupt to skip such files)"
            )
        folder.skipped.extend(names)
    labels = np.asarray(folder.labels, np.int64)[kept]
    if len({image.shape for image in images}) == 1:
        return tf.data.Dataset.from_tensor_slices((np.stack(images), labels)), len(kept)
    generated = tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([], tf.int64),
        ),
    )
    return generated, len(kept)
