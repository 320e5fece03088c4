"""The QONNX forms as qonnx passes (`converters.qonnx.passes`), one test each on a small
graph: what the pass rewrites, and that qonnx's executor computes the same before and after
it, and the Keras model's function. The composed hls4ml form of a whole network is
tests/test_hls4ml.py's (g++ emulation); the +1 padding form under qonnx's XNOR-popcount
transform is tests/test_qonnx.py's. Skipped without the [onnx] extra."""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("qonnx", reason='the [onnx] extra: pip install -e ".[onnx]"')
import onnx  # noqa: E402
from qonnx.core.modelwrapper import ModelWrapper  # noqa: E402
from qonnx.core.onnx_exec import execute_onnx  # noqa: E402

from larq_abbnn import layers  # noqa: E402
from larq_abbnn.analysis.synthetic import trained_looking  # noqa: E402
from larq_abbnn.converters import contract, fold  # noqa: E402
from larq_abbnn.converters.qonnx import (  # noqa: E402
    CHANNELS_LAST_DOMAIN,
    apply,
    execute,
    export_folded,
    passes,  # noqa: E402
)


def _block(head: str = "pool") -> tf.keras.Model:
    """A ReActNet-like block on a 6x6 map: bias, sign, zero-padded 3x3 binary conv, PReLU,
    residual add, and a head (global pool, or max pool and flatten)."""
    inputs = tf.keras.Input((6, 6, 4))
    x = layers.LearnableBias(name="move")(inputs)
    x = layers.BinaryScaledStdConv2D(4, 3, name="binary")(x)
    x = tf.keras.layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = tf.keras.layers.Add(name="add")([x, inputs])
    if head == "pool":
        x = tf.keras.layers.GlobalAveragePooling2D(name="pool")(x)
    else:
        x = tf.keras.layers.MaxPooling2D(2, name="max")(x)
        x = tf.keras.layers.Flatten(name="flat")(x)
    outputs = tf.keras.layers.Dense(3, name="head")(x)
    return trained_looking(tf.keras.Model(inputs, outputs), seed=3)


def _images(n: int = 4) -> np.ndarray:
    return np.random.default_rng(2).normal(size=(n, 6, 6, 4)).astype(np.float32)


def _ops(proto) -> Counter:
    return Counter(node.op_type for node in proto.graph.node)


def _same_function(before, after, model) -> None:
    x = _images()
    keras = model.predict(x, verbose=0)
    scale = np.abs(keras).max()
    np.testing.assert_allclose(execute(before, x), keras, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(execute(after, x), execute(before, x), rtol=0, atol=1e-5 * scale)


@pytest.fixture(scope="module")
def block():
    model = _block()
    return model, export_folded(fold(model))


def test_pad_binary_with_ones_pads_the_sign_with_plus_one_and_subtracts_what_it_adds(block):
    model, nchw = block
    conv = next(n for n in nchw.graph.node if n.name == "binary/conv")
    assert list(next(a.ints for a in conv.attribute if a.name == "pads")) == [1, 1, 1, 1]
    ones = apply(nchw, [passes.PadBinaryWithOnes()])
    wrapper = ModelWrapper(ones)
    pad = wrapper.find_producer(
        next(n for n in ones.graph.node if n.name == "binary/conv").input[0]
    )
    assert pad.op_type == "Pad" and wrapper.get_initializer(pad.input[2]) == 1.0
    assert wrapper.find_producer(pad.input[0]).op_type == "BipolarQuant"
    correction = wrapper.get_initializer("binary.padding_correction")
    assert correction.shape == (4, 6, 6) and np.array_equal(correction, np.round(correction))
    assert np.all(correction[:, 2:4, 2:4] == 0)  # inside, no padding reaches the window
    assert _ops(ones)["Pad"] == _ops(nchw)["Pad"] + 1
    _same_function(nchw, ones, model)


def test_pad_before_sign_moves_the_padding_in_front_of_the_sign_with_zeros(block):
    model, nchw = block
    ones = apply(nchw, [passes.PadBinaryWithOnes()])
    moved = apply(ones, [passes.PadBeforeSign()])
    wrapper = ModelWrapper(moved)
    sign = next(n for n in moved.graph.node if n.name == "binary/sign")
    pad = wrapper.find_producer(sign.input[0])
    assert pad.op_type == "Pad" and wrapper.get_initializer(pad.input[2]) == 0.0
    assert wrapper.get_tensor_shape(sign.output[0]) == [1, 4, 8, 8]
    _same_function(ones, moved, model)


def test_prelu_as_relus_keeps_the_slopes_and_the_output_name(block):
    model, nchw = block
    relus = apply(nchw, [passes.PReLUAsRelus()])
    assert "PRelu" not in _ops(relus) and _ops(relus)["Relu"] == _ops(nchw)["Relu"] + 2
    slopes = ModelWrapper(nchw).get_initializer("prelu.slope")
    np.testing.assert_array_equal(ModelWrapper(relus).get_initializer("prelu.minus_slope"), -slopes)
    assert any(n.output[0] == "prelu" and n.op_type == "Add" for n in relus.graph.node)
    _same_function(nchw, relus, model)


def test_the_head_pool_becomes_an_average_pool_over_the_map(block):
    model, nchw = block
    pooled = apply(nchw, [passes.HeadPoolAsAveragePool()])
    pool = next(n for n in pooled.graph.node if n.op_type == "AveragePool")
    assert "GlobalAveragePool" not in _ops(pooled)
    assert list(next(a.ints for a in pool.attribute if a.name == "kernel_shape")) == [6, 6]
    _same_function(nchw, pooled, model)


def test_gemm_becomes_matmul_and_add_and_refuses_a_transposed_gemm(block):
    model, nchw = block
    matmul = apply(nchw, [passes.GemmAsMatMul()])
    assert "Gemm" not in _ops(matmul) and _ops(matmul)["MatMul"] == 1
    _same_function(nchw, matmul, model)
    transposed = ModelWrapper(nchw).transform(passes.PReLUAsRelus(), cleanup=False).model
    gemm = next(n for n in transposed.graph.node if n.op_type == "Gemm")
    gemm.attribute.append(onnx.helper.make_attribute("transB", 1))
    with pytest.raises(ValueError, match="Gemm 'head' has transposes"):
        apply(transposed, [passes.GemmAsMatMul()])


def test_channels_last_is_the_same_function_on_nhwc_images_with_names_hls4ml_can_write():
    """A graph qonnx can run channels-last (Conv and MaxPool have channels-last ops there):
    the same logits from NHWC images, weights OHWI, constants (C,) and (H, W, C), the
    Flatten's transpose gone, no name with a dot, and the record saying NHWC."""
    model = _block(head="flatten")
    nchw = apply(export_folded(fold(model)), [passes.PReLUAsRelus(), passes.GemmAsMatMul()])
    last = apply(nchw, [passes.ToChannelsLast()])
    assert [d.dim_value for d in last.graph.input[0].type.tensor_type.shape.dim] == [1, 6, 6, 4]
    spatial = [n for n in last.graph.node if n.op_type in ("Conv", "MaxPool")]
    assert spatial and all(n.domain == CHANNELS_LAST_DOMAIN for n in spatial)
    assert "Transpose" not in _ops(last) and _ops(nchw)["Transpose"] == 1
    names = [*(n.name for n in last.graph.node), *(i.name for i in last.graph.initializer)]
    assert not [name for name in names if "." in name or "/" in name]
    wrapper = ModelWrapper(last)
    assert wrapper.get_initializer("binary_scale").shape == (4,)
    assert wrapper.get_initializer("binary_kernel").shape == (4, 3, 3, 4)  # OHWI
    assert contract.read(last)["input"]["layout"] == "NHWC"
    assert apply(last, [passes.ToChannelsLast()]) is not None  # once: a second pass is a no-op
    x = _images()
    ours = np.concatenate(
        [execute_onnx(wrapper, {last.graph.input[0].name: image[None]})[last.graph.output[0].name]
         for image in x]
    )  # fmt: skip
    np.testing.assert_allclose(
        ours, model.predict(x, verbose=0), rtol=0, atol=1e-5 * np.abs(ours).max()
    )
