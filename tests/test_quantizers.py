import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import np_scaled_std, np_sign

from larq_abbnn import quantizers
from larq_abbnn.quantizers import ScaledStd, ScaledStdSign, SigmoidSign


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_sigmoid_sign_forward_is_larq_sign_with_zero_to_plus_one(float64):
    x = tf.constant([-2.0, -1e-30, 0.0, 1e-30, 3.0], tf.float64)
    np.testing.assert_array_equal(SigmoidSign()(x).numpy(), [-1, -1, 1, 1, 1])


@pytest.mark.parametrize("k", [3.0, 1.5])
def test_sigmoid_sign_pseudo_gradient_is_the_papers(float64, k):
    x = tf.constant(np.linspace(-3, 3, 41), tf.float64)
    upstream = tf.constant(np.random.default_rng(0).normal(size=41))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = SigmoidSign(k=k)(x)
    grad = tape.gradient(y, x, output_gradients=upstream).numpy()
    s = _sigmoid(k * x.numpy())
    np.testing.assert_allclose(grad, upstream.numpy() * 2 * k * s * (1 - s), rtol=1e-9, atol=1e-15)


def test_sigmoid_sign_is_a_larq_quantizer_by_name():
    assert isinstance(lq.quantizers.get("sigmoid_sign"), SigmoidSign)
    layer = lq.layers.QuantConv2D(4, 3, input_quantizer="sigmoid_sign")
    assert isinstance(layer.input_quantizer, SigmoidSign)
    assert layer.input_quantizer.precision == 1


@pytest.mark.parametrize("k", [0.0, -1.0])
def test_sigmoid_sign_rejects_non_positive_k(k):
    with pytest.raises(ValueError, match="k must be positive"):
        SigmoidSign(k=k)


def test_scaled_std_matches_formula(float64):
    w = np.random.default_rng(1).normal(size=(3, 3, 5, 7))
    out = ScaledStd()(tf.constant(w)).numpy()
    np.testing.assert_allclose(out, np_scaled_std(w), rtol=1e-12)
    # per output channel: zero mean, population std n**-0.5 (up to eps)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-15)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 45**-0.5, rtol=1e-4)


@pytest.mark.parametrize(
    "shape, scale",
    [((3, 3, 5, 7), 1.0), ((1, 1, 6, 4), 1.0), ((3, 3, 4, 6), 1e-3), ((12, 10), 1.0)],
)
def test_scaled_std_gradient_is_the_formulas(float64, shape, scale):
    """The standardization's gradient is written out (one traced call in the train step
    instead of TensorFlow's ~40 ops): it equals TensorFlow's own gradient of the formula,
    and central differences of NumPy's, on kernels at the binary convs' initial scale
    (U[0, 1e-3)) and at 1."""
    rng = np.random.default_rng(6)
    w = rng.uniform(0, scale, size=shape) if scale < 1 else rng.normal(size=shape)
    v = rng.normal(size=shape)
    axes = tuple(range(len(shape) - 1))

    def formula(kernel):
        mean, variance = tf.nn.moments(kernel, axes=list(axes), keepdims=True)
        return np.prod(shape[:-1]) ** -0.5 * (kernel - mean) / (tf.sqrt(variance) + 1e-5)

    grads = []
    for standardize in (quantizers.scaled_weight_standardization, formula):
        kernel = tf.constant(w)
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            loss = tf.reduce_sum(v * standardize(kernel))
        grads.append(tape.gradient(loss, kernel).numpy())
    ours, tfs = grads
    np.testing.assert_allclose(ours, tfs, rtol=1e-12, atol=1e-14 * np.abs(tfs).max())

    def np_loss(kernel):
        return np.sum(v * np_scaled_std(kernel))

    h = 1e-6 * scale
    differences = np.zeros(w.size)
    for i in range(w.size):
        step = np.zeros(w.size)
        step[i] = h
        step = step.reshape(shape)
        differences[i] = (np_loss(w + step) - np_loss(w - step)) / (2 * h)
    np.testing.assert_allclose(ours.ravel(), differences, rtol=1e-6, atol=1e-7 * np.abs(ours).max())


def test_scaled_std_sign_forward_is_mean_abs_times_sign(float64):
    w = np.random.default_rng(2).normal(size=(3, 3, 4, 6))
    w_hat = np_scaled_std(w)
    scale = np.abs(w_hat).mean(axis=(0, 1, 2), keepdims=True)
    out = ScaledStdSign()(tf.constant(w)).numpy()
    np.testing.assert_allclose(out, scale * np_sign(w_hat), rtol=1e-14)
    assert ScaledStdSign.precision == 1


def test_scaled_std_sign_gradient_is_clipped_straight_through_with_detached_scale(float64):
    w = tf.constant(np.random.default_rng(3).normal(size=(3, 3, 4, 6)))
    v = tf.constant(np.random.default_rng(4).normal(size=(3, 3, 4, 6)))
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_sum(v * ScaledStdSign()(w))
    ours = tape.gradient(loss, w)
    # The reference backward: as if the kernel were clip(W_hat, -1, 1).
    with tf.GradientTape() as tape:
        tape.watch(w)
        w_hat = quantizers.scaled_weight_standardization(w)
        loss = tf.reduce_sum(v * tf.clip_by_value(w_hat, -1.0, 1.0))
    reference = tape.gradient(loss, w)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-12, atol=1e-15)


def test_binary_weight_clip_blocks_gradient_outside_unit_interval(float64):
    # Standardized kernels stay inside [-1, 1]; the clip itself is tested on raw values.
    w_hat = tf.constant([[-2.0, -0.5], [0.25, 1.5]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(w_hat)
        y = quantizers._scaled_sign_clipped_ste(w_hat)
    grad = tape.gradient(y, w_hat, output_gradients=tf.ones_like(w_hat))
    np.testing.assert_array_equal(grad.numpy(), [[0, 1], [1, 0]])
    # forward: per-column mean |w_hat| times sign
    np.testing.assert_allclose(y.numpy(), [[-1.0, -1.0], [1.0, 1.0]] * np.array([1.125, 1.0]))


@pytest.mark.parametrize(
    "quantizer", [SigmoidSign(k=2.5), ScaledStd(eps=1e-4), ScaledStdSign(eps=1e-3)]
)
def test_quantizer_serialization_round_trip(float64, quantizer):
    restored = lq.quantizers.get(lq.quantizers.serialize(quantizer))
    assert type(restored) is type(quantizer)
    assert restored.get_config() == quantizer.get_config()
    x = tf.constant(np.random.default_rng(5).normal(size=(3, 3, 2, 4)))
    np.testing.assert_array_equal(restored(x).numpy(), quantizer(x).numpy())
