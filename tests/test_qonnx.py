"""QONNX export (the FPGA path): the file computes what the Keras model computes (qonnx's
executor), holds the paper's concepts as QONNX nodes, audits as the other dialects, and
survives qonnx's bipolar-to-XNOR-popcount transform. Skipped without the [onnx] extra."""

import os
from collections import Counter

import networks
import numpy as np
import pytest
import tensorflow as tf

pytest.importorskip("qonnx", reason='the [onnx] extra: pip install -e ".[onnx]"')
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from larq_abbnn import zoo  # noqa: E402
from larq_abbnn.analysis import count_multiplications  # noqa: E402
from larq_abbnn.analysis.converted import binary_convs  # noqa: E402
from larq_abbnn.analysis.synthetic import trained_looking  # noqa: E402
from larq_abbnn.converters import (  # noqa: E402
    FoldError,
    VerificationError,
    convert,
    to_qonnx,
    verify,
)
from larq_abbnn.converters.qonnx import execute  # noqa: E402
from larq_abbnn.converters.qonnx_xnor import to_xnor_popcount  # noqa: E402
from larq_abbnn.families import is_power_of_two  # noqa: E402


def _quarter_width(name: str, seed: int = 0) -> tf.keras.Model:
    """The zoo network `name` at the CIFAR stem, width 0.25, trained-looking."""
    model = zoo.get(name)(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    return trained_looking(model, seed=seed)


def _images(n: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, size, size, 3)).astype(np.float32)


#: every family (A&B, BN-Free, BN) and every block kind (ReActNet-18's and -A's, Bi-ResNet's
#: real shortcut convs, ReActNet-A's one padding on a 2x2 map) in the default run
DEFAULT_RUN = {"ab_reactneta", "ab_biresnet18", "bnfree_reactnet18", "bn_reactneta"}


@pytest.mark.parametrize(
    "name",
    [
        name if name in DEFAULT_RUN else pytest.param(name, marks=pytest.mark.slow)
        for name in sorted(zoo.MODELS)
    ],
)
def test_every_zoo_model_exports_and_verifies_through_qonnx(name):
    """At the CIFAR stem, width 0.25: the float64 fold exact, qonnx's executor equal to
    Keras within float32 rounding."""
    result = verify(_quarter_width(name), format="qonnx", samples=32)
    assert result.runner == "QONNX (qonnx executor)"
    assert result.float64_relative_difference < 1e-12
    assert result.file_exact >= 0.75 and result.file_argmax_agreement >= 0.75


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_every_zoo_model_verifies_through_qonnx_at_224(name):
    model = trained_looking(zoo.get(name)(num_classes=10))
    result = verify(model, format="qonnx", samples=16, batch_size=8)
    assert result.float64_relative_difference < 1e-9 and result.file_exact >= 0.5


def _initializers(proto) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}


def test_the_export_holds_the_papers_concepts():
    model = _quarter_width("ab_reactnet18")
    proto = to_qonnx(model)
    onnx.checker.check_model(proto)
    # to_qonnx is the one convert's short name: the same file
    assert convert(model, format="qonnx").SerializeToString() == proto.SerializeToString()
    constants = _initializers(proto)
    nodes = list(proto.graph.node)
    quant = [n for n in nodes if n.op_type == "BipolarQuant"]
    kernels = [n for n in quant if n.input[0] in constants]
    signs = [n for n in quant if n.input[0] not in constants]
    assert len(kernels) == 19  # 16 3x3 + 3 shortcut 1x1 (binary weights, real input)
    assert len(signs) == zoo.binary_conv_count(model) == 16  # the 3x3 convs' input signs
    assert binary_convs(proto) == 16  # what `abbnn convert` reports, as for LceBconv2d
    for node in quant:
        assert node.domain == "qonnx.custom_op.general" and constants[node.input[1]] == 1.0
    for node in kernels:
        np.testing.assert_array_equal(np.abs(constants[node.input[0]]), 1.0)
    convs = [n for n in nodes if n.op_type == "Conv"]
    first = convs[0]
    assert first.input[0] == proto.graph.input[0].name
    assert len(np.unique(np.abs(constants[first.input[1]]))) > 2  # full precision
    assert nodes[-1].op_type == "Gemm" and nodes[-1].input[1] in constants
    # the reference's symmetric zero padding stays the conv's own
    conv3 = next(n for n in convs if n.name == "layer1.0.conv1/conv")
    assert next(a.ints for a in conv3.attribute if a.name == "pads") == [1, 1, 1, 1]
    assert "Pad" not in Counter(n.op_type for n in nodes)
    # Q-PReLU: a PRelu of powers of two; alpha joined the binary conv's scale
    prelus = [n for n in nodes if n.op_type == "PRelu"]
    assert len(prelus) == 16 and all(is_power_of_two(constants[n.input[1]]) for n in prelus)
    assert not [n for n in nodes if n.name.endswith(".alpha")]
    # every tensor has its shape
    typed = {v.name for v in (*proto.graph.value_info, *proto.graph.output)}
    assert {output for n in nodes for output in n.output} <= typed
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim] == [1, 10]


def test_qonnx_cleanup_runs_on_the_export_and_keeps_the_function(tmp_path):
    from qonnx.util.cleanup import cleanup

    model = networks.small(kind="reactnet_a")
    path, cleaned = tmp_path / "model.onnx", tmp_path / "clean.onnx"
    onnx.save(to_qonnx(model), path)
    cleanup(str(path), out_file=str(cleaned))
    x = _images(4)
    keras = model.predict(x, verbose=0)
    ours = execute(onnx.load(cleaned), x)
    np.testing.assert_allclose(ours, keras, rtol=0, atol=1e-4 * np.abs(keras).max())


def test_a_model_fold_cannot_take_gets_folds_error():
    inputs = tf.keras.Input((8, 8, 4))
    odd = tf.keras.layers.Lambda(lambda t: t * 2, name="custom")(inputs)
    with pytest.raises(FoldError, match="layer 'custom' \\(Lambda\\) is not one the fold knows"):
        to_qonnx(tf.keras.Model(inputs, odd))


def test_verify_fails_loudly_when_the_qonnx_file_computes_something_else():
    model, other = networks.small(), networks.small(seed=1)
    with pytest.raises(VerificationError, match="within float32 rounding: 16 inputs") as info:
        verify(model, to_qonnx(other), samples=16)
    assert "QONNX (qonnx executor) 0.0%" in str(info.value)


def test_execute_names_a_wrong_image_shape():
    proto = to_qonnx(networks.small())
    with pytest.raises(ValueError, match=r"images of shape \(3, 32, 32\) \(NHWC\), the file"):
        execute(proto, np.zeros((1, 3, 32, 32), np.float32))


def test_a_uint8_pixel_export_casts_normalizes_and_computes_what_the_model_does():
    from larq_abbnn.analysis.audit import INPUT_NORMALIZATION
    from larq_abbnn.converters import contract

    model = networks.small()
    proto = to_qonnx(model, input_pixels="uint8")
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    readers = {n.name: n for n in proto.graph.node}
    cast = next(n for n in proto.graph.node if proto.graph.input[0].name in n.input)
    mul = next(n for n in readers.values() if cast.output[0] in n.input)
    add = next(n for n in readers.values() if mul.output[0] in n.input)
    assert [n.op_type for n in (cast, mul, add)] == ["Cast", "Mul", "Add"]
    assert contract.read(proto)["input"]["dtype"] == "uint8"
    result = verify(model, proto, samples=16)
    assert result.float64_relative_difference < 1e-12 and result.file_exact >= 0.75
    with pytest.raises(ValueError, match="takes raw uint8 pixels"):
        execute(proto, _images(1))
    report, plain = count_multiplications(proto), count_multiplications(to_qonnx(model))
    assert report.full_precision == plain.full_precision and report.family == plain.family
    assert [(s.kind, s.count) for s in report.sources if s.note == INPUT_NORMALIZATION] == [
        ("excluded", 32 * 32 * 3)
    ]


def test_flatten_and_activation_export_as_keras_computes_them():
    """Flatten of an NCHW tensor in Keras's (H, W, C) order, and activations by name; an
    activation it does not export is refused by name."""
    from larq_abbnn import layers

    inputs = tf.keras.Input((4, 4, 3))
    x = layers.ScaledStdConv2D(2, 3, padding="symmetric")(inputs)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(5)(x)
    x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.Dense(3)(x)
    model = trained_looking(tf.keras.Model(inputs, tf.keras.layers.Activation("softmax")(x)))
    images = np.random.default_rng(0).normal(size=(4, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        execute(to_qonnx(model), images), model.predict(images, verbose=0), rtol=1e-5, atol=1e-6
    )
    odd = tf.keras.Model(
        inputs, tf.keras.layers.Activation("elu")(tf.keras.layers.Flatten()(inputs))
    )
    with pytest.raises(FoldError, match="Activation '.*': 'elu' is not exported"):
        to_qonnx(odd)


# -- the audit in three dialects -------------------------------------------------------------


@pytest.mark.parametrize("name", ["ab_reactnet18", "bnfree_reactnet18", "bn_reactnet18"])
def test_qonnx_audit_matches_keras_and_tflite(name):
    """The same MO in the three dialects: A&B 0 and BN as in Keras and the TFLite file.
    BN-Free: the fold joins each alpha to its binary conv's scale, so the QONNX file (the
    folded graph) counts Keras's figure less the alphas; LCE's converter also fuses 5 of
    the 16 beta multiplies into the ops before them (measured), which the QONNX file keeps."""
    model = zoo.get(name)(
        input_shape=(64, 64, 3), num_classes=10, stem="imagenet", width_multiplier=0.25
    )
    keras = count_multiplications(trained_looking(model))
    tflite = count_multiplications(convert(model))
    qonnx = count_multiplications(to_qonnx(model))
    assert qonnx.family == keras.family == tflite.family
    alphas = sum(s.count for s in keras.sources if s.label == "Scale *.alpha")
    if name.startswith("bnfree"):
        assert alphas > 0 and qonnx.full_precision == keras.full_precision - alphas
        roles = [_full_precision_by_role(report) for report in (qonnx, tflite)]
        assert roles[0].pop("*.beta") > roles[1].pop("*.beta") and roles[0] == roles[1]
    else:
        assert qonnx.full_precision == keras.full_precision == tflite.full_precision
    assert qonnx.binary_macs == keras.binary_macs == tflite.binary_macs
    assert qonnx.binary_conv_scaling == keras.binary_conv_scaling == tflite.binary_conv_scaling


def _full_precision_by_role(report) -> dict:
    """{"*.beta": count, ...}: the labels without their dialect's op name."""
    return {s.label.split(" ")[-1]: s.count for s in report.sources if s.kind == "full_precision"}


@pytest.mark.parametrize(
    "name,mo", [("ab_reactneta", 0), ("bnfree_reactneta", 14_651_392 - 4_641_280)]
)
def test_qonnx_audit_at_224(name, mo):
    """A&B ReActNet-A: 0, the paper's. BN-Free: the paper's 14,651,392 less its 4,641,280
    alphas, which the fold joins to the binary convs' scales."""
    report = count_multiplications(to_qonnx(zoo.get(name)()))
    assert report.full_precision == mo
    assert report.binary_macs == 4_816_896_000


# -- the hardware step: qonnx's bipolar-to-XNOR-popcount transform ---------------------------


def test_xnor_popcount_transform_computes_the_same():
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = networks.small()
    with pytest.raises(ValueError, match="binary conv 'layer1.0.conv1/conv' pads its"):
        to_xnor_popcount(to_qonnx(model))
    ready = to_qonnx(model, pad_binary_with_ones=True)
    x = _images(4)
    keras = model.predict(x, verbose=0)
    scale = np.abs(keras).max()
    np.testing.assert_allclose(execute(ready, x), keras, rtol=0, atol=1e-5 * scale)
    xnor = to_xnor_popcount(ready)
    ops = Counter(n.op_type for n in xnor.graph.node)
    assert ops["XnorPopcountMatMul"] == 4 and "BipolarQuant" not in ops
    wrapper = ModelWrapper(xnor)
    name_in, name_out = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    outputs = np.concatenate(
        [
            execute_onnx(wrapper, {name_in: np.transpose(image[None], (0, 3, 1, 2))})[name_out]
            for image in x
        ]
    )
    np.testing.assert_allclose(outputs, keras, rtol=0, atol=1e-5 * scale)


# -- the command line ------------------------------------------------------------------------


def test_convert_command_writes_verifies_and_audits_a_qonnx_file(tmp_path, abbnn):
    model = networks.small()
    model.save(tmp_path / "xnor.keras")
    out = tmp_path / "xnor.onnx"
    code, stdout, stderr = abbnn(
        "convert", tmp_path / "xnor.keras", "-o", out, "--audit", "--verify",
        "--verify-samples", "16",
    )  # fmt: skip
    assert code == 0, stderr[-3000:]
    assert f"wrote {out}" in stdout and "(qonnx)" in stdout
    assert "BipolarQuant 11" in stdout  # 4 signs, 4 + 3 shortcut kernels
    assert "full_precision (the paper's MO): 0" in stdout
    assert "verify: 16 inputs" in stdout and "QONNX (qonnx executor)" in stdout
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    code, stdout, _ = abbnn("audit", out)
    assert code == 0 and "full_precision (the paper's MO): 0" in stdout
    (tmp_path / "junk.onnx").write_bytes(os.urandom(256))
    code, _, stderr = abbnn("audit", tmp_path / "junk.onnx")
    assert code == 1 and "junk.onnx: not a valid ONNX file" in stderr
    assert "Traceback" not in stderr
    code, _, stderr = abbnn("convert", "zoo:ab_xnornet18", "-o", tmp_path / "x.pb")
    assert code != 0 and "must end in .tflite or .onnx" in stderr
