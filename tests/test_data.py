"""Data: the paper's transforms, image folders and their errors, tfds through mock data."""

import os
import re
import time

import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn import data
from larq_abbnn.data import transforms

MEAN, STD = np.array(transforms.MEAN), np.array(transforms.STD)
LOW, HIGH = (0 - MEAN) / STD, (1 - MEAN) / STD


def _image(h, w, seed=0):
    return tf.constant(np.random.default_rng(seed).integers(0, 256, (h, w, 3)), tf.uint8)


def test_cifar_train_is_a_flipped_crop_of_the_reflect_padded_image():
    image = _image(32, 32)
    padded = np.pad(image.numpy() / 255.0, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    expected = (padded - MEAN) / STD
    tf.random.set_seed(0)
    for _ in range(5):
        out = transforms.cifar_train(image).numpy()
        assert out.shape == (32, 32, 3) and out.dtype == np.float32
        candidates = [
            crop
            for i in range(9)
            for j in range(9)
            for crop in (
                expected[i : i + 32, j : j + 32],
                expected[i : i + 32, j : j + 32][:, ::-1],
            )
        ]
        assert min(np.abs(out - c).max() for c in candidates) < 1e-5


def test_cifar_test_only_normalizes():
    image = _image(32, 32)
    out = transforms.cifar_test(image).numpy()
    np.testing.assert_allclose(out, (image.numpy() / 255.0 - MEAN) / STD, rtol=1e-5, atol=1e-6)
    assert (out >= LOW - 1e-6).all() and (out <= HIGH + 1e-6).all()


def test_imagenet_transforms_shapes_and_ranges():
    image = _image(300, 400)
    tf.random.set_seed(0)
    train = transforms.imagenet_train(image).numpy()
    assert train.shape == (224, 224, 3)
    # lighting moves each channel by at most a few hundredths
    assert (train >= LOW - 0.5).all() and (train <= HIGH + 0.5).all()
    test = transforms.imagenet_test(image).numpy()
    assert test.shape == (224, 224, 3)


def _textured(height, width):
    """Stripes, gradients and noise: any wrong offset, size or filter shows."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack(
        [(xx * 3 + yy) % 256, (yy * 5) % 256, ((xx // 7) * 40 + (yy // 9) * 30) % 256], -1
    )
    noise = np.random.default_rng(0).integers(-20, 20, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("height,width", [(375, 500), (500, 333), (256, 343), (300, 300)])
def test_imagenet_test_transform_is_torchvisions_resize_and_center_crop(height, width):
    """Against PIL, as torchvision's Resize(256) + CenterCrop(224) compute it: shorter
    side 256, longer int(256 * long / short), PIL bilinear; offsets round((d) / 2) half to
    even (256x343: d = 119, offset 60, not 59). PIL rounds to uint8: 1 level apart."""
    from PIL import Image

    image = _textured(height, width)
    if width <= height:
        new_w, new_h = 256, int(256 * height / width)
    else:
        new_w, new_h = int(256 * width / height), 256
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    top, left = int(round((new_h - 224) / 2.0)), int(round((new_w - 224) / 2.0))
    expected = resized[top : top + 224, left : left + 224] / 255.0
    ours = transforms.imagenet_test(tf.constant(image)).numpy() * STD + MEAN
    assert np.abs(ours - expected).max() <= 1.001 / 255
    assert np.abs(ours - expected).mean() <= 0.4 / 255


def test_lighting_adds_one_rgb_offset_per_image():
    tf.random.set_seed(1)
    image = tf.zeros((8, 8, 3))
    out = transforms.lighting(image).numpy()
    np.testing.assert_allclose(out, np.broadcast_to(out[0, 0], out.shape))
    assert 0 < np.abs(out[0, 0]).max() < 0.2


def test_transforms_follow_keras_floatx(float64):
    assert transforms.cifar_train(_image(32, 32)).dtype == tf.float64
    assert transforms.imagenet_test(_image(240, 260)).dtype == tf.float64


def _write_folder(root, classes=3, per_class=10, size=32, fmt="png"):
    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = os.path.join(root, f"class{c}")
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            encoded = tf.io.encode_png(pixels) if fmt == "png" else tf.io.encode_jpeg(pixels)
            with open(os.path.join(folder, f"{i:03d}.{fmt}"), "wb") as f:
                f.write(encoded.numpy())


def test_folder_with_held_out_validation(tmp_path):
    _write_folder(tmp_path, classes=3, per_class=10)
    d = data.load(f"folder:{tmp_path}", batch_size=4)
    assert (d.num_classes, d.stem, d.image_size) == (3, "cifar", 32)
    assert (d.train_examples, d.validation_examples) == (27, 3)
    assert (d.name, d.validation_split) == (f"folder:{tmp_path}", "last 0.1 of each class")
    labels = np.concatenate([y.numpy() for _, y in d.validation])
    assert sorted(labels) == [0, 1, 2]
    x, y = next(iter(d.train))
    assert x.shape == (4, 32, 32, 3) and x.dtype == tf.float32 and y.dtype == tf.int64


def test_folder_with_train_and_test_splits(tmp_path):
    _write_folder(tmp_path / "train", classes=2, per_class=4, size=80, fmt="jpg")
    _write_folder(tmp_path / "test", classes=2, per_class=2, size=80, fmt="jpg")
    d = data.load(f"folder:{tmp_path}", batch_size=2)
    assert (d.train_examples, d.validation_examples, d.stem, d.image_size) == (
        8,
        4,
        "imagenet",
        224,
    )
    # what a run records of its data (run.json, accuracy records)
    assert (d.name, d.validation_split) == (f"folder:{tmp_path}", "test")
    x, _ = next(iter(d.validation))
    assert x.shape == (2, 224, 224, 3)


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda root: None, "image folder not found: {root}/missing"),
        (lambda root: os.makedirs(f"{root}/missing"), "has no class sub-folders"),
        (
            lambda root: [os.makedirs(f"{root}/missing/{c}") for c in ("cat", "dog")],
            "class folder {root}/missing/cat holds no images",
        ),
        (  # one class would train to a meaningless 100%
            lambda root: _write_folder(f"{root}/missing", classes=1, per_class=4),
            "image folder {root}/missing has one class folder (class0): a classifier needs at "
            "least 2",
        ),
    ],
)
def test_folder_errors_name_the_path(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(data.DataError, match=re.escape(message.format(root=tmp_path))):
        data.load(f"folder:{tmp_path}/missing")


def test_corrupt_images_are_named_or_skipped(tmp_path):
    _write_folder(tmp_path, classes=2, per_class=10, fmt="jpg")
    garbage = tmp_path / "class0" / "zz-garbage.jpg"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(data.DataError, match=f"{garbage} is not a readable image.*--skip-corrupt"):
        data.load(f"folder:{tmp_path}")
    d = data.load(f"folder:{tmp_path}", skip_corrupt=True)
    assert d.skipped == 1 and d.train_examples + d.validation_examples == 20

    # a valid JPEG header with its data cut off: found by decoding, still named
    garbage.unlink()
    good = (tmp_path / "class1" / "000.jpg").read_bytes()
    truncated = tmp_path / "class1" / "001.jpg"
    truncated.write_bytes(good[: len(good) // 3])
    with pytest.raises(data.DataError, match=f"cannot be decoded, first {truncated}"):
        data.load(f"folder:{tmp_path}")
    d = data.load(f"folder:{tmp_path}", skip_corrupt=True)
    assert d.skipped == 1 and d.train_examples + d.validation_examples == 19


def test_unknown_dataset_and_too_small_classes(tmp_path):
    with pytest.raises(data.DataError, match="unknown dataset 'mnist'"):
        data.load("mnist")
    _write_folder(tmp_path, classes=2, per_class=1)
    with pytest.raises(data.DataError, match="has 1 images: too few to hold out 10%"):
        data.load(f"folder:{tmp_path}")


@pytest.fixture
def mocked_tfds(monkeypatch):
    """tfds's mock data: its builder makes examples and prepares nothing, so the download
    check, which would look for the real archive's host, is not what these tests are about
    (the real builder and that check are tested below, offline)."""
    import tensorflow_datasets as tfds

    monkeypatch.setattr(data, "_check_downloadable", lambda *args: None)
    return tfds.testing


@pytest.mark.parametrize("name, classes", [("cifar10", 10), ("cifar100", 100)])
def test_tfds_cifar_pipeline_on_mock_data(name, classes, mocked_tfds):
    with mocked_tfds.mock_data(num_examples=12):
        d = data.load(name, batch_size=4)
        assert (d.num_classes, d.stem, d.image_size) == (classes, "cifar", 32)
        assert (d.name, d.validation_split) == (name, "test")
        x, y = next(iter(d.train))
        assert x.shape == (4, 32, 32, 3) and x.dtype == tf.float32
        assert (x.numpy() >= LOW.min() - 1e-5).all() and (x.numpy() <= HIGH.max() + 1e-5).all()
        assert next(iter(d.validation))[0].shape == (4, 32, 32, 3)


@pytest.fixture
def no_network(monkeypatch):
    """This machine's network, as an offline one: every host name fails to resolve (the
    boundary every download goes through: requests, urllib3 and socket alike), so the
    tests below behave the same on a host that has a network."""
    import socket

    def unresolvable(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {host}")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)


@pytest.mark.parametrize("name, archive", [("cifar10", "cifar-10-binary.tar.gz"),
                                           ("cifar100", "cifar-100-binary.tar.gz")])  # fmt: skip
def test_tfds_real_builder_offline_fails_at_once_naming_the_download_and_the_ways_round(
    name, archive, tmp_path, no_network
):
    """The user's path, `abbnn train --dataset cifar10` on a machine without the download:
    tfds's real builder (its checksums, found through importlib_resources: the trial's
    `No module named 'importlib_resources'`), then one line, in seconds (tfds's own
    retries took 3.5 minutes)."""
    start = time.perf_counter()
    with pytest.raises(data.DataError) as error:
        data.load(name, data_dir=str(tmp_path))
    assert time.perf_counter() - start < 60
    message = str(error.value)
    assert message.startswith(
        f"{name} is not prepared in {tmp_path} and needs a download of {archive} from "
        "www.cs.toronto.edu, which this machine cannot reach (gaierror: "
    )
    for way in ("--data-dir DIR", "--manual-dir DIR", "--dataset folder:PATH"):
        assert way in message
    assert "\n" not in message


def test_tfds_real_download_and_prepare_reads_the_manual_dir_and_names_a_wrong_archive(
    tmp_path, no_network
):
    """`--manual-dir` holding a file of the archive's name: no network is needed, and
    tfds's real `download_and_prepare` runs until it checks the archive's checksum (tfds
    4.9.10) or extracts it (4.9.3, beside TF 2.15, takes a manual file unchecked)."""
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "cifar-10-binary.tar.gz").write_bytes(b"not the archive")
    with pytest.raises(data.DataError) as error:
        data.load("cifar10", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
    message = str(error.value)
    assert message.startswith(
        f"cifar10 is not prepared in {tmp_path / 'tfds'} and could not be prepared from {manual} ("
    )
    assert "(NonMatchingChecksumError: " in message or "(ExtractError: " in message, message
    assert "--manual-dir DIR" in message and len(message.splitlines()) == 1
    assert not (tmp_path / "tfds" / "cifar10" / "3.0.2" / "dataset_info.json").exists()


def test_train_on_a_tfds_dataset_offline_is_one_line_before_any_run_folder(
    tmp_path, no_network, abbnn
):
    """The README's recipe, `abbnn train --dataset cifar10`, as the command runs it."""
    run = tmp_path / "run"
    code, out, err = abbnn(
        "train", "--dataset", "cifar10", "--data-dir", tmp_path / "tfds", "--output", run,
        "--epochs", "1",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("abbnn train: error: cifar10 is not prepared in ")
    assert len(err.strip().splitlines()) == 1 and "cannot reach" in err
    assert not run.exists()


def test_tfds_imagenet_pipeline_on_mock_data(mocked_tfds):
    with mocked_tfds.mock_data(num_examples=4, policy=mocked_tfds.MockPolicy.USE_CODE):
        d = data.load("imagenet", batch_size=2)
        assert (d.num_classes, d.stem, d.image_size) == (1000, "imagenet", 224)
        assert next(iter(d.train))[0].shape == (2, 224, 224, 3)
        assert next(iter(d.validation))[0].shape == (2, 224, 224, 3)


def test_preprocess_input_is_what_the_models_take_the_test_transform_without_resizing():
    """The deployed file's contract: [0, 255] pixels, scaled and normalized with ImageNet's
    mean and std (the paper's, for CIFAR too), as the validation pipeline feeds them."""
    image = _image(32, 32, seed=3)
    expected = (image.numpy() / 255.0 - MEAN) / STD
    np.testing.assert_allclose(data.preprocess_input(image).numpy(), expected, rtol=1e-5, atol=1e-6)
    batch = tf.stack([image, _image(32, 32, seed=4)])  # a batch, and floats in [0, 255]
    out = data.preprocess_input(tf.cast(batch, tf.float32)).numpy()
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], transforms.cifar_test(image).numpy(), rtol=1e-6)
