"""Every block type, stem and head against the authors' own modules, in float64.

`tests/data/reference_blocks.npz` is written by tools/make_reference_fixtures.py from
github.com/Ruichen0424/AB-BNN (A&B) and github.com/VITA-Group/BNN_NoBN (BN-Free and BN), with
random trained-looking weights. Our zoo's block functions, loaded with the same weights,
must give the same output and input gradient (loss `mean(y**2) / 2`) to 1e-12.
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn.checkpoints.reference_layout import reference_entries
from larq_abbnn.zoo import config, parts, reactnet_a, resnet

FIXTURE = Path(__file__).parent / "data" / "reference_blocks.npz"

#: case -> (our builder of (inputs, cfg, alpha, betas), stem, padding of the zoo)
BLOCKS = {
    "ab_reactnet18_s1": lambda x, c, a, b: resnet.ab_reactnet_block(x, 8, 1, a, b[0], c, "b"),
    "ab_reactnet18_s2": lambda x, c, a, b: resnet.ab_reactnet_block(x, 16, 2, a, b[0], c, "b"),
    "ab_biresnet18_s2": lambda x, c, a, b: resnet.bi_block(x, 16, 2, a, b[0], c, "b"),
    "ab_xnornet18_s2": lambda x, c, a, b: resnet.xnor_block(x, 16, 2, a, b[0], c, "b"),
    "ab_reactneta_s1": lambda x, c, a, b: reactnet_a.ab_block(x, 8, 1, a, tuple(b), c, "b"),
    "ab_reactneta_s2": lambda x, c, a, b: reactnet_a.ab_block(x, 16, 2, a, tuple(b), c, "b"),
    "bnfree_reactnet18_s2": lambda x, c, a, b: resnet.bnfree_reactnet_block(
        x, 16, 2, a, b[0], c, "b"
    ),
    "bnfree_reactneta_s2": lambda x, c, a, b: reactnet_a.bnfree_block(
        x, 16, 2, a, tuple(b), c, "b"
    ),
    "bn_reactnet18_s1": lambda x, c, a, b: resnet.bn_reactnet_block(x, 8, 1, a, None, c, "b"),
    "bn_reactnet18_s2": lambda x, c, a, b: resnet.bn_reactnet_block(x, 16, 2, a, None, c, "b"),
    "bn_reactneta_s1": lambda x, c, a, b: reactnet_a.bn_block(x, 8, 1, a, None, c, "b"),
    "bn_reactneta_s2": lambda x, c, a, b: reactnet_a.bn_block(x, 16, 2, a, None, c, "b"),
}
STEMS = {
    "stem_resnet_cifar": ("cifar", lambda x, c: resnet.stem(x, c)),
    "stem_resnet_imagenet": ("imagenet", lambda x, c: resnet.stem(x, c)),
    "stem_biresnet_imagenet": ("imagenet", lambda x, c: resnet.stem(x, c, outer_prelu=True)),
    "stem_reactneta_cifar": ("cifar", reactnet_a.stem),
    "stem_reactneta_imagenet": ("imagenet", reactnet_a.stem),
    "bn_stem_resnet_cifar": ("cifar", resnet.bn_stem),
    "bn_stem_resnet_imagenet": ("imagenet", resnet.bn_stem),
    "bn_stem_reactneta_imagenet": ("imagenet", reactnet_a.bn_stem),
}
#: BN cases run twice: in training mode (batch statistics) and, as `CASE_eval`, in
#: inference mode (the running statistics of the fixture)
EVAL = [f"{case}_eval" for case in [*BLOCKS, *STEMS] if case.startswith("bn_")]


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x


def _model(case, data):
    case = case.removesuffix("_eval")
    shape = _nhwc(data["x"]).shape[1:]
    inputs = tf.keras.Input(shape)
    if case in BLOCKS:
        cfg = config.Config(stem="cifar", step=2, padding="reference")
        outputs = BLOCKS[case](inputs, cfg, float(data["alpha"]), list(data["betas"]))
    elif case in STEMS:
        stem, build = STEMS[case]
        cfg = config.Config(stem=stem, step=2, padding="reference", width_multiplier=0.125)
        outputs = build(inputs, cfg)
    else:
        outputs = parts.head(inputs, 10, True, pool_name="avgpool")
    return tf.keras.Model(inputs, outputs)


@pytest.mark.parametrize("case", [*BLOCKS, *STEMS, *EVAL, "head"])
def test_matches_the_authors_module(float64, fixture, case):
    data = {k.split("/", 1)[1]: v for k, v in fixture.items() if k.split("/", 1)[0] == case}
    model = _model(case, data)
    weights = {k[len("weights/") :]: v for k, v in data.items() if k.startswith("weights/")}
    entries = {k.removeprefix("b."): e for k, e in reference_entries(model).items()}
    assert set(entries) == set(weights), case
    for key, entry in entries.items():
        if entry.variable is not None:  # BatchNorm's num_batches_tracked has none
            entry.variable.assign(entry.to_keras(weights[key]).reshape(entry.variable.shape))
    x = tf.constant(_nhwc(data["x"]))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=not case.endswith("_eval"))
        if "loss_weights" in data:  # BN cases (see the fixture script)
            loss = tf.reduce_mean(y * _nhwc(data["loss_weights"]))
        else:
            loss = 0.5 * tf.reduce_mean(tf.square(y))
    expected, expected_grad = _nhwc(data["out"]), _nhwc(data["x_grad"])
    error = np.abs(y.numpy() - expected).max() / np.abs(expected).max()
    grad_error = np.abs(tape.gradient(loss, x).numpy() - expected_grad).max()
    assert error <= 1e-12, (case, error)
    assert grad_error <= 1e-12 * np.abs(expected_grad).max(), (case, grad_error)
    # BatchNorm's running statistics after the training batch: PyTorch's update, with the
    # unbiased batch variance (Keras's float64 path would use the biased one)
    after = {k[len("after/") :]: v for k, v in data.items() if k.startswith("after/")}
    for key, value in after.items():
        np.testing.assert_allclose(
            entries[key].variable.numpy(), value, rtol=1e-12, atol=0, err_msg=f"{case} {key}"
        )
    if case.startswith("bn_") and not case.endswith("_eval"):
        assert after, case  # the fixture has them, so the check above ran
