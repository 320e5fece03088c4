import math

import larq as lq
import networks
import numpy as np
import pytest
import tensorflow as tf
from conftest import np_conv2d, np_scaled_std, np_sign

from larq_abbnn import layers
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.layers import (
    BinaryScaledStdConv2D,
    LearnableBias,
    MaskLayer,
    QuantRPReLU,
    Scale,
    ScaledStdConv2D,
    SymmetricMaxPooling2D,
)

RNG = np.random.default_rng(2024)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- mask layer and learnable bias ---------------------------------------------------


def test_mask_layer_scales_the_sign_pseudo_gradient_by_beta(float64):
    beta, k = 0.917662935482247, 3.0
    x = tf.constant(RNG.normal(size=(2, 4, 4, 3)))
    bias_layer = LearnableBias(divisor=beta)
    bias_layer.build(x.shape)
    b = RNG.normal(size=3)
    bias_layer.bias.assign(b)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = lq.quantizers.get("sigmoid_sign")(MaskLayer(beta)(bias_layer(x)))
    z = beta * x.numpy() + b  # what the sign sees: beta*x + b
    np.testing.assert_array_equal(h.numpy(), np_sign(z))
    s = _sigmoid(k * z)
    pseudo = 2 * k * s * (1 - s)
    np.testing.assert_allclose(tape.gradient(h, x).numpy(), beta * pseudo, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        tape.gradient(h, bias_layer.bias).numpy(), pseudo.sum(axis=(0, 1, 2)), rtol=1e-9
    )


@pytest.mark.parametrize("beta", [0.0, -0.5, float("nan"), float("inf")])
def test_mask_layer_refuses_non_positive_beta(beta):
    with pytest.raises(ValueError, match="MaskLayer: beta must be a positive"):
        MaskLayer(beta)


def test_mask_layer_refuses_non_numeric_beta():
    with pytest.raises(TypeError, match="MaskLayer: beta must be a number"):
        MaskLayer("big")


def test_learnable_bias_refuses_bad_divisor_and_rank():
    with pytest.raises(ValueError, match="LearnableBias: divisor"):
        LearnableBias(divisor=-1)
    with pytest.raises(ValueError, match="LearnableBias 'lb'.*rank >= 2"):
        LearnableBias(name="lb")(tf.zeros((3,)))


def test_scale_forward_and_power_of_two():
    assert Scale(0.25).is_power_of_two and not Scale(0.2).is_power_of_two
    np.testing.assert_array_equal(Scale(0.25)(tf.constant([4.0, -8.0])).numpy(), [1.0, -2.0])
    with pytest.raises(ValueError, match="Scale: scale"):
        Scale(0)


# -- quantized RPReLU ------------------------------------------------------------------


def test_quant_rprelu_slopes_are_powers_of_two_with_round_half_to_even(float64):
    layer = QuantRPReLU()
    layer.build((None, 4))
    np.testing.assert_array_equal(layer.exponents, [-3, -3, -3, -3])  # paper's init
    layer.exponent.assign([-3.4, -2.5, 0.5, 1.6])
    np.testing.assert_array_equal(layer.exponents, [-3, -2, 0, 2])
    x = tf.constant([[-8.0, -8.0, -8.0, -8.0], [3.0, 3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(layer(x).numpy(), [[-1.0, -2.0, -8.0, -32.0], [3, 3, 3, 3]])


def test_quant_rprelu_exponent_gradient_is_straight_through(float64):
    layer = QuantRPReLU()
    x = tf.constant(RNG.normal(size=(5, 3, 3, 4)))
    layer.build(x.shape)
    exponents = np.array([-3.3, -0.6, 1.2, -5.5])
    layer.exponent.assign(exponents)
    upstream = tf.constant(RNG.normal(size=x.shape))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = layer(x)
    slopes = 2.0 ** np.round(exponents)
    negative = x.numpy() <= 0
    expected_l = (upstream.numpy() * x.numpy() * slopes * math.log(2) * negative).sum((0, 1, 2))
    np.testing.assert_allclose(
        tape.gradient(y, layer.exponent, output_gradients=upstream).numpy(),
        expected_l,
        rtol=1e-12,
    )
    expected_x = upstream.numpy() * np.where(negative, slopes, 1.0)
    np.testing.assert_allclose(
        tape.gradient(y, x, output_gradients=upstream).numpy(), expected_x, rtol=1e-14
    )


def test_quant_rprelu_refuses_wrong_rank():
    with pytest.raises(ValueError, match="QuantRPReLU 'q'.*rank >= 2"):
        QuantRPReLU(name="q")(tf.zeros((4,)))


# -- scaled-std convolutions -----------------------------------------------------------


@pytest.mark.parametrize(
    "size,kernel,stride,mode",
    [
        (8, 3, 1, "same"),
        (8, 3, 2, "flip"),
        (7, 3, 2, "same"),
        (16, 7, 2, "flip"),
        (8, 1, 2, "same"),
    ],
)
def test_scaled_std_conv_matches_symmetric_zero_padded_reference(
    float64, size, kernel, stride, mode
):
    x = RNG.normal(size=(2, size, size, 3))
    layer = ScaledStdConv2D(5, kernel, stride, padding="symmetric")
    y = layer(tf.constant(x))
    assert layer._symmetric_mode == mode
    w, g = layer.kernel.numpy(), RNG.uniform(0.5, 1.5, 5)
    layer.gain.assign(g)
    p = kernel // 2
    expected = np_conv2d(x, np_scaled_std(w) * g, stride, ((p, p), (p, p)))
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), expected, rtol=1e-12, atol=1e-13)
    assert y.shape == expected.shape


def _assert_same_gradients(tape, ours, reference, upstream, pairs):
    """Each (our variable, the reference's) pair gets the same gradient, in float64."""
    for a, b in pairs:
        np.testing.assert_allclose(
            tape.gradient(ours, a, output_gradients=upstream).numpy(),
            tape.gradient(reference, b, output_gradients=upstream).numpy(),
            rtol=1e-10,
            atol=1e-12,
        )


def _reference_binary_conv(x, w, g, stride, k=3.0):
    """The paper's binary conv written with plain TF ops and stop-gradient tricks."""
    pseudo = 2.0 * tf.math.sigmoid(k * x)  # d/dx = 2k*s*(1-s)
    h = tf.stop_gradient(np_sign(x.numpy()) - pseudo) + pseudo
    w_hat = layers.quantizers.scaled_weight_standardization(w)
    scale = tf.stop_gradient(tf.reduce_mean(tf.abs(w_hat), axis=[0, 1, 2], keepdims=True))
    clipped = tf.clip_by_value(w_hat, -1.0, 1.0)
    kernel = g * (tf.stop_gradient(scale * tf.sign(w_hat) - clipped) + clipped)
    p = int(w.shape[0]) // 2
    h = tf.pad(h, [[0, 0], [p, p], [p, p], [0, 0]])  # PyTorch: zero padding after the sign
    return tf.nn.conv2d(h, kernel, stride, "VALID")


@pytest.mark.parametrize("size,stride", [(8, 1), (8, 2), (7, 2)])
def test_binary_conv_forward_and_gradients_match_the_papers_definition(float64, size, stride):
    x = tf.constant(RNG.normal(size=(2, size, size, 4)))
    layer = BinaryScaledStdConv2D(6, 3, stride)
    layer.build(x.shape)
    w = tf.Variable(RNG.normal(size=(3, 3, 4, 6)))
    g = tf.Variable(RNG.uniform(0.5, 1.5, 6))
    layer.kernel.assign(w)
    layer.gain.assign(g)
    upstream = tf.constant(RNG.normal(size=layer.compute_output_shape(x.shape)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x)
        reference = _reference_binary_conv(x, w, g, stride)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-12, atol=1e-12)
    _assert_same_gradients(
        tape, ours, reference, upstream, [(x, x), (layer.kernel, w), (layer.gain, g)]
    )


def test_binary_conv_step1_uses_real_weights_on_the_same_variables(float64):
    x = tf.constant(np_sign(RNG.normal(size=(1, 6, 6, 4))))
    binary = BinaryScaledStdConv2D(3, 3, name="conv")
    real = BinaryScaledStdConv2D(3, 3, binary_weights=False, name="conv")
    binary(x), real(x)
    assert [v.name for v in binary.weights] == [v.name for v in real.weights]
    assert [v.shape for v in binary.weights] == [v.shape for v in real.weights]
    w = RNG.normal(size=(3, 3, 4, 3))
    for layer in (binary, real):
        layer.kernel.assign(w)
    expected_real = np_conv2d(x.numpy(), np_scaled_std(w), 1, ((1, 1), (1, 1)))
    np.testing.assert_allclose(real(x).numpy(), expected_real, rtol=1e-12, atol=1e-13)
    w_hat = np_scaled_std(w)
    kernel = np.abs(w_hat).mean(axis=(0, 1, 2)) * np_sign(w_hat)
    expected_binary = np_conv2d(x.numpy(), kernel, 1, ((1, 1), (1, 1)))
    np.testing.assert_allclose(binary(x).numpy(), expected_binary, rtol=1e-12, atol=1e-13)
    assert binary.kernel_quantizer.precision == 1 and real.kernel_quantizer.precision == 32


def test_conv_refuses_bad_arguments():
    with pytest.raises(ValueError, match="padding must be"):
        ScaledStdConv2D(4, 3, padding="reflect")
    with pytest.raises(ValueError, match="pad_values must be"):
        ScaledStdConv2D(4, 3, pad_values=0.5)
    with pytest.raises(ValueError, match="activation is not supported"):
        ScaledStdConv2D(4, 3, activation="relu")
    with pytest.raises(ValueError, match='layer "b".*expected min_ndim=4, found ndim=3'):
        BinaryScaledStdConv2D(4, 3, name="b")(tf.zeros((8, 8, 3)))


@pytest.mark.parametrize("strides", [1, 2])  # 2: the mirrored ("flip") computation
def test_conv_bias_is_added_after_the_gain_and_survives_serialization(float64, strides):
    x = tf.constant(RNG.normal(size=(2, 8, 8, 3)))
    plain = BinaryScaledStdConv2D(4, 3, strides, input_quantizer="ste_sign")
    plain(x)
    plain.gain.assign(RNG.uniform(0.5, 2.0, 4))
    config = {**plain.get_config(), "use_bias": True, "name": "biased"}
    biased = BinaryScaledStdConv2D.from_config(config)
    biased(x)
    bias = RNG.normal(size=4)
    biased.set_weights([*plain.get_weights()[:1], bias, plain.get_weights()[1]])
    np.testing.assert_allclose(biased(x).numpy(), plain(x).numpy() + bias, rtol=1e-13)
    assert biased.get_config()["use_bias"] and "use_bias" not in plain.get_config()


def test_symmetric_max_pool_never_pools_padding(float64):
    x = -1.0 - RNG.uniform(size=(2, 8, 8, 3))  # all negative: zero padding would win
    y = SymmetricMaxPooling2D(3, 2, padding=1)(tf.constant(x)).numpy()
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    np.testing.assert_array_equal(y, windows[:, ::2, ::2].max(axis=(-1, -2)))
    assert y.shape == (2, 4, 4, 3)


# -- dtype and serialization -------------------------------------------------------------


def _all_layers_model():
    inputs = tf.keras.Input((8, 8, 3))
    x = ScaledStdConv2D(8, 3, 2, name="stem")(inputs)
    x = SymmetricMaxPooling2D(3, 1, padding=1, name="pool")(x)
    h = LearnableBias(divisor=0.9, name="move0")(x)
    h = MaskLayer(0.9, name="mask")(h)
    y = BinaryScaledStdConv2D(8, 3, 2, name="conv1")(h)
    y = Scale(0.25, name="alpha")(y)
    r = tf.keras.layers.AveragePooling2D(2, name="pool2")(x)
    r = BinaryScaledStdConv2D(8, 1, input_quantizer=None, name="down")(r)
    x = tf.keras.layers.Add()([y, r])
    x = QuantRPReLU(name="prelu")(x)
    x = BinaryScaledStdConv2D(8, 3, binary_weights=False, name="step1_conv")(x)
    return tf.keras.Model(inputs, x)


def test_layers_follow_keras_float_type(float64):
    model = _all_layers_model()
    assert all(w.dtype == tf.float64 for w in model.weights)
    assert model(tf.zeros((1, 8, 8, 3), tf.float64)).dtype == tf.float64


def test_a_float64_model_loads_and_runs_in_float64_where_floatx_is_float32(tmp_path):
    """A model trained with `--floatx float64` evaluates where Keras's default is float32:
    Larq's quantizers (Keras layers) must not cast the float64 kernel to float32."""
    tf.keras.backend.set_floatx("float64")
    try:
        model = _all_layers_model()
        trained_looking(model)
        model.save(tmp_path / "m.keras")
    finally:
        tf.keras.backend.set_floatx("float32")
    restored = tf.keras.models.load_model(tmp_path / "m.keras")
    x = RNG.normal(size=(2, 8, 8, 3))
    assert restored.output.dtype == tf.float64
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_model_with_every_layer_saves_and_loads_with_identical_outputs(tmp_path, fmt):
    model = _all_layers_model()
    trained_looking(model)
    x = RNG.normal(size=(4, 8, 8, 3)).astype(np.float32)
    path = str(tmp_path / {"keras": "m.keras", "h5": "m.h5", "savedmodel": "m"}[fmt])
    model.save(path, save_format="tf" if fmt == "savedmodel" else None)
    restored = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    if fmt != "savedmodel":  # SavedModel restores traced functions, not our classes
        assert [type(a) for a in restored.layers] == [type(a) for a in model.layers]


@pytest.mark.parametrize(
    "layer",
    [
        MaskLayer(0.8),
        Scale(0.25),
        LearnableBias(divisor=0.5),
        QuantRPReLU(exponent_initializer=-2.0),
        ScaledStdConv2D(4, 7, 2, padding="symmetric", eps=1e-4),
        BinaryScaledStdConv2D(4, 3, 2, binary_weights=False, input_quantizer="approx_sign"),
        SymmetricMaxPooling2D(3, 2, padding=1),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def test_the_padding_formula_is_pytorchs_and_says_when_tf_same_pads_alike():
    from larq_abbnn.layers_base import (
        dilated_size,
        symmetric_output_size,
        symmetric_padding,
        symmetric_padding_mode,
    )

    assert [symmetric_padding(k) for k in (1, 3, 7)] == [0, 1, 3]
    assert symmetric_padding(3, dilation=2) == 2 and dilated_size(3, 2) == 5
    # PyTorch's conv output length: floor((n + 2p - d(k-1) - 1) / s) + 1
    assert symmetric_output_size(224, 7, 2) == 112 and symmetric_output_size(7, 3, 2) == 4
    assert symmetric_padding_mode((32, 32), (3, 3), (1, 1), (1, 1)) == "same"
    assert symmetric_padding_mode((7, 7), (3, 3), (2, 2), (1, 1)) == "same"  # odd: 1 and 1
    # even sizes at stride 2: TF pads bottom/right, PyTorch top/left, the mirror image
    assert symmetric_padding_mode((8, 8), (3, 3), (2, 2), (1, 1)) == "flip"
    assert symmetric_padding_mode((224, 224), (7, 7), (2, 2), (1, 1)) == "flip"
    assert symmetric_padding_mode((8, 7), (3, 3), (2, 2), (1, 1)) == "flip"  # 7: 1 and 1 either way
    # an even kernel: PyTorch pads 1 on each side, 7 outputs from 8; TF's "same" gives 8
    assert symmetric_padding_mode((8, 8), (4, 4), (1, 1), (1, 1)) == "explicit"
    assert symmetric_padding_mode((None, None), (3, 3), (1, 1), (1, 1)) == "same"
    assert symmetric_padding_mode((None, None), (3, 3), (2, 2), (1, 1)) == "explicit"


def test_pixel_normalization_is_the_papers_normalization_of_uint8_pixels(float64):
    """(x / 255 - mean) / std per channel (spec section 4: ImageNet's mean and std), on
    uint8 pixels, in Keras's float type; refuses a mean per channel it does not have."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 5, 4, 3), dtype=np.uint8)
    layer = layers.PixelNormalization(mean, std)
    y = layer(tf.constant(pixels)).numpy()
    assert y.dtype == np.float64
    expected = (pixels / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-14)
    clone = layers.PixelNormalization.from_config(layer.get_config())
    np.testing.assert_array_equal(clone(tf.constant(pixels)).numpy(), y)
    with pytest.raises(ValueError, match="3 channel means for an input of 1 channels"):
        layers.PixelNormalization(mean, std)(tf.zeros((1, 4, 4, 1), tf.uint8))
    with pytest.raises(ValueError, match="std must be a positive finite number"):
        layers.PixelNormalization(mean, (0.2, 0.0, 0.2))


@pytest.mark.parametrize("scale,center", [(True, True), (False, True), (True, False)])
def test_batch_norm_affine_is_what_keras_computes_at_inference(float64, scale, center):
    """The one BatchNorm map the fold and the QONNX export share: `scale * x + shift`
    equals Keras's inference output, gamma or beta absent included."""
    bn = tf.keras.layers.BatchNormalization(scale=scale, center=center, epsilon=1e-3)
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 5))
    bn.build(x.shape)
    rng = np.random.default_rng(1)
    for variable in bn.weights:
        variable.assign(rng.uniform(0.5, 2.0, size=variable.shape))
    a, b = layers.batch_norm_affine(bn)
    np.testing.assert_allclose(a * x + b, bn(x, training=False).numpy(), rtol=1e-13, atol=1e-13)


def test_binary_input_and_weight_predicates_read_the_quantizers_precision():
    step2 = BinaryScaledStdConv2D(4, 3, binary_weights=True)
    step1 = BinaryScaledStdConv2D(4, 3, binary_weights=False)
    real = ScaledStdConv2D(4, 3)
    assert layers.has_binary_input(step2) and layers.has_binary_weights(step2)
    assert layers.has_binary_input(step1) and not layers.has_binary_weights(step1)
    assert not layers.has_binary_input(real) and not layers.has_binary_weights(real)
    assert not layers.has_binary_input(tf.keras.layers.Dense(3))  # no quantizers at all
    assert [layers.is_binary_conv(c) for c in (step2, step1, real)] == [True, False, False]


@pytest.mark.parametrize(
    "strides,dilations", [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 1), (2, 2))]
)
def test_one_padding_correction_is_what_padding_with_ones_adds(strides, dilations):
    """`layers_base.one_padding_correction` (used by the fold and the QONNX forms) against
    the difference of two TF convs, one over the input padded with +1, one with 0."""
    from larq_abbnn.layers_base import one_padding_correction

    rng = np.random.default_rng(0)
    kernel = np.where(rng.normal(size=(3, 3, 2, 5)) >= 0, 1.0, -1.0)
    x = np.where(rng.normal(size=(1, 7, 6, 2)) >= 0, 1.0, -1.0)
    pads = (2, 1, 1, 2)  # top, left, bottom, right
    spatial = [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]]

    def conv(value):
        padded = np.pad(x, spatial, constant_values=value)
        return tf.nn.conv2d(padded, kernel, strides, "VALID", dilations=dilations).numpy()[0]

    correction = one_padding_correction(kernel, (7, 6), pads, strides, dilations)
    np.testing.assert_array_equal(correction, conv(1.0) - conv(0.0))


def test_power_of_two_scale_is_the_nearest_power_of_two_with_a_straight_through_gradient(float64):
    """`power_of_two_scale=True` (issue 33): the output scale of the binary weights is
    sign(g a) 2^round(log2 |g a|) (numpy, half to even); the gradients are those of the
    rounding taken as the identity (plain TF ops with stop-gradient tricks)."""
    x = tf.constant(RNG.normal(size=(2, 6, 6, 4)))
    layer = BinaryScaledStdConv2D(5, 3, power_of_two_scale=True)
    layer.build(x.shape)
    w = tf.Variable(RNG.normal(size=(3, 3, 4, 5)))
    g = tf.Variable(np.array([0.7, 1.3, -2.2, 0.05, 3.0]))  # a negative gain keeps its sign
    layer.kernel.assign(w)
    layer.gain.assign(g)
    w_hat = np_scaled_std(w.numpy())
    s = g.numpy() * np.abs(w_hat).mean(axis=(0, 1, 2))
    power = np.sign(s) * 2.0 ** np.round(np.log2(np.abs(s)))
    expected = np_conv2d(np_sign(x.numpy()), np_sign(w_hat) * power, 1, ((1, 1), (1, 1)))
    upstream = tf.constant(RNG.normal(size=expected.shape))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x)
        pseudo = 2.0 * tf.math.sigmoid(3.0 * x)  # the sign's pseudo-gradient, as above
        h = tf.stop_gradient(np_sign(x.numpy()) - pseudo) + pseudo
        reference_w_hat = layers.quantizers.scaled_weight_standardization(w)
        magnitude = tf.stop_gradient(tf.reduce_mean(tf.abs(reference_w_hat), axis=[0, 1, 2]))
        scale = g * magnitude
        log2 = tf.math.log(tf.abs(scale)) / np.log(2.0)
        rounded = tf.sign(scale) * 2.0 ** (log2 + tf.stop_gradient(tf.round(log2) - log2))
        clipped = tf.clip_by_value(reference_w_hat, -1.0, 1.0)
        ste = tf.stop_gradient(magnitude * tf.sign(reference_w_hat) - clipped) + clipped
        h = tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]])
        reference = tf.nn.conv2d(h, rounded / magnitude * ste, 1, "VALID")
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert np.all(np.frexp(np.abs(power))[0] == 0.5) and power[2] < 0
    _assert_same_gradients(
        tape, ours, reference, upstream, [(x, x), (layer.kernel, w), (layer.gain, g)]
    )
    config = layer.get_config()
    assert config["power_of_two_scale"] is True
    assert BinaryScaledStdConv2D.from_config(config).power_of_two_scale


# -- the stride-1 conv's input gradient (larq_abbnn.math.conv2d) ----------------------


@pytest.mark.parametrize("padding, k", [("SAME", 3), ("VALID", 3), ("SAME", 1), ("SAME", 4)])
def test_conv2d_gradients_are_tfs_own_in_float64(padding, k):
    """`ab_math.flipped_gradient_conv2d` (`conv2d` where TensorFlow convolves on Eigen)
    computes dL/dx as a forward conv of dy with the flipped, transposed kernel; it is TF's
    `Conv2DBackpropInput` within rounding (another summation order), and its forward and
    filter gradient are TF's ops. An even kernel checks the mirrored SAME pads."""
    from larq_abbnn import math as ab_math

    x = tf.constant(RNG.normal(size=(2, 7, 6, 5)))
    w = tf.constant(RNG.normal(size=(k, k, 5, 4)))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        ours = ab_math.flipped_gradient_conv2d(x, w, padding)
        tfs = tf.nn.conv2d(x, w, 1, padding)
        weights = tf.constant(RNG.normal(size=ours.shape))
        loss_ours, loss_tf = tf.reduce_sum(ours * weights), tf.reduce_sum(tfs * weights)
    np.testing.assert_array_equal(ours.numpy(), tfs.numpy())
    for a, b in zip(tape.gradient(loss_ours, [x, w]), tape.gradient(loss_tf, [x, w])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-13)


def test_training_calls_take_the_fast_input_gradient_and_inference_keeps_the_plain_op():
    """In training (`model.fit`'s `training=True`) every stride-1 conv of a block differentiates
    through `ab_math.conv2d`: on Eigen, no `Conv2DBackpropInput` left but the strided convs';
    on oneDNN, TF's own for every conv. Called for inference, the graph LCE converts has the
    plain convs, as before. This process convolves where abbnn.stack put it (oneDNN on
    x86-64 Linux); `test_on_eigen_...` runs this test again on Eigen."""
    from larq_abbnn import math as ab_math
    from larq_abbnn import zoo

    onednn = ab_math._onednn_convolutions()
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125)
    x = tf.zeros((2, 32, 32, 3))
    strided = [
        layer
        for layer in model.layers
        if isinstance(layer, tf.keras.layers.Conv2D) and tuple(layer.strides) != (1, 1)
    ]

    def step(training):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=training))
        return tape.gradient(loss, model.trainable_variables)

    def op_types(training):
        graph = tf.function(lambda: step(training)).get_concrete_function().graph
        return [op.type for op in graph.get_operations()]

    trained, inferred = op_types(True), op_types(False)
    assert inferred.count("Conv2DBackpropInput") == 20  # TF's gradient for every conv
    if onednn:
        assert trained.count("Conv2DBackpropInput") == 20
        assert trained.count("Conv2D") == inferred.count("Conv2D")
        assert trained.count("ReverseV2") == inferred.count("ReverseV2")  # no kernel flipped
    else:
        assert trained.count("Conv2DBackpropInput") == len(strided) == 3
        # the 17 stride-1 convs' input gradients are forward convs instead
        assert trained.count("Conv2D") - inferred.count("Conv2D") == 20 - 3


def test_convolutions_run_where_the_stack_put_them():
    """`ab_math.conv2d` asks TensorFlow whether its convolutions are oneDNN's, which
    abbnn.stack switches on (x86-64 Linux) unless the user set `TF_ENABLE_ONEDNN_OPTS=0`."""
    import os

    from abbnn import stack
    from larq_abbnn import math as ab_math

    expected = os.environ.get(stack.ONEDNN) == "1"
    assert ab_math._onednn_convolutions() == expected


def test_on_eigen_the_stride_1_convs_take_the_flipped_input_gradient():
    """The two tests above again, in a fresh process where TensorFlow convolves on Eigen
    (`TF_ENABLE_ONEDNN_OPTS=0`, as a user sets it, or a CPU other than x86-64 Linux):
    there `conv2d` takes the flipped input gradient."""
    import os
    import subprocess
    import sys

    from abbnn import stack

    tests = [
        f"{__file__}::test_training_calls_take_the_fast_input_gradient_and_inference_keeps_the_plain_op",
        f"{__file__}::test_convolutions_run_where_the_stack_put_them",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, stack.ONEDNN: "0", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout[-3000:]


def test_every_layer_and_quantizer_call_runs_without_autograph_and_keeps_its_arguments():
    """`no_autograph`: Keras runs each `call` as written (an autograph artifact, which
    `tf_convert` returns unconverted), and still reads its own arguments: only the layers
    whose `call` takes `training` are given it (a quantizer given it would fail)."""
    import inspect

    from larq_abbnn import quantizers

    classes = [
        c
        for module in (layers, quantizers)
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, tf.keras.layers.Layer) and c.__module__ == module.__name__
        and "call" in vars(c)
    ]  # fmt: skip
    assert len(classes) >= 12
    for cls in classes:
        assert hasattr(cls.call, "autograph_info__"), cls.__name__
    assert hasattr(layers.BinaryScaledStdConv2D.call, "autograph_info__")  # inherited
    model = networks.small()
    expects = {
        type(layer).__name__: layer._call_spec.expects_training_arg for layer in model.layers
    }
    assert expects["MaskLayer"] is False and expects["QuantRPReLU"] is False
    assert expects["BinaryScaledStdConv2D"] is True and expects["ScaledStdConv2D"] is True
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True))
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))
