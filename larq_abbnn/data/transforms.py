"""The paper's train/test image transforms (spec section 4), as tf.data map functions.

Every function takes one decoded image (uint8 or float, HxWx3, values in [0, 255]) and
returns a normalized image of Keras's float type, so a float64 session trains float64.
"""

from __future__ import annotations

import tensorflow as tf

#: The paper's normalization (ImageNet statistics, used for CIFAR too).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

#: AlexNet's PCA of ImageNet RGB, the reference `Lighting` transform's constants.
EIGVAL = (0.2175, 0.0188, 0.0045)
EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def to_unit(image: tf.Tensor) -> tf.Tensor:
    """[0, 255] -> [0, 1] float32 (what torchvision's ToTensor does)."""
    return tf.cast(image, tf.float32) / 255.0


def normalize(image: tf.Tensor) -> tf.Tensor:
    """(x - mean) / std per channel on a [0, 1] image, cast to Keras's float type."""
    image = (image - tf.constant(MEAN, image.dtype)) / tf.constant(STD, image.dtype)
    return tf.cast(image, tf.keras.backend.floatx())


def preprocess_input(images) -> tf.Tensor:
    """What every model of this package (Keras, `.tflite`, `.onnx`) takes: images or
    batches of them with values in [0, 255] (uint8 or float), scaled to [0, 1] and
    normalized with ImageNet's per-channel mean and std (`MEAN`, `STD`; the paper's, for
    CIFAR too), in Keras's float type. The models return logits, not probabilities: apply
    a softmax for those (larq-zoo's models end in one; these do not).

    As larq-zoo's and Keras applications' `preprocess_input`; the test transforms
    (`cifar_test`, `imagenet_test`) do the same after resizing and cropping.
    """
    return normalize(to_unit(images))


def cifar_train(image: tf.Tensor, size: int = 32) -> tf.Tensor:
    """Reflect-pad 4, random size x size crop, random horizontal flip, normalize."""
    image = to_unit(image)
    image = tf.pad(image, [[4, 4], [4, 4], [0, 0]], mode="REFLECT")
    image = tf.image.random_crop(image, [size, size, 3])
    image = tf.image.random_flip_left_right(image)
    return normalize(image)


def cifar_test(image: tf.Tensor, size: int = 32) -> tf.Tensor:
    """Normalize only (resized when an image folder holds another size)."""
    image = to_unit(image)
    if image.shape[0] != size or image.shape[1] != size:
        image = tf.image.resize(image, [size, size])
    return normalize(image)


def lighting(image: tf.Tensor, std: float = 0.1) -> tf.Tensor:
    """AlexNet-style PCA lighting noise: add eigvec @ (alpha * eigval), alpha ~ N(0, std)."""
    alpha = tf.random.normal([3], stddev=std)
    rgb = tf.linalg.matvec(tf.constant(EIGVEC), alpha * tf.constant(EIGVAL))
    return image + rgb


def imagenet_train(image: tf.Tensor, size: int = 224) -> tf.Tensor:
    """Random-resized crop (scale 0.08-1, ratio 3/4-4/3), lighting 0.1, flip, normalize."""
    shape = tf.shape(image)
    begin, crop_size, _ = tf.image.sample_distorted_bounding_box(
        shape,
        bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, crop_size)
    # antialias: torchvision resizes PIL images, whose bilinear filter widens when it
    # shrinks (without it, up to 80 of 255 levels apart on a textured photo)
    image = tf.image.resize(to_unit(image), [size, size], method="bilinear", antialias=True)
    image = lighting(image)
    image = tf.image.random_flip_left_right(image)
    return normalize(image)


def imagenet_test(image: tf.Tensor, size: int = 224, resize: int = 256) -> tf.Tensor:
    """torchvision's `Resize(256)`, `CenterCrop(224)` (the reference's test transform), normalize.

    The shorter side becomes `resize`, the longer `int(resize * long / short)`, with PIL's
    antialiased bilinear filter; the crop's offsets are `round((side - size) / 2)`,
    half to even as Python rounds. Only the crop is computed: `ScaleAndTranslate` (what
    `tf.image.resize(antialias=True)` runs) with the crop's offset as its translation
    gives the same pixels (measured: within 0.01 of a level) for 0.6x the work of
    resizing everything.
    """
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    if_tall = tf.stack([(resize * height) // width, resize])
    if_wide = tf.stack([resize, (resize * width) // height])
    new = tf.where(width <= height, if_tall, if_wide)
    offsets = tf.cast(tf.round(tf.cast(new - size, tf.float32) / 2), tf.int32)
    image = tf.raw_ops.ScaleAndTranslate(
        images=to_unit(image)[None],
        size=[size, size],
        scale=tf.cast(new, tf.float32) / tf.cast(tf.stack([height, width]), tf.float32),
        translation=-tf.cast(offsets, tf.float32),
        kernel_type="triangle",
        antialias=True,
    )[0]
    return normalize(tf.ensure_shape(image, [size, size, 3]))


#: stem -> (train transform, test transform)
TRANSFORMS = {"cifar": (cifar_train, cifar_test), "imagenet": (imagenet_train, imagenet_test)}
