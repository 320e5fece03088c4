"""Fold, convert, verify: the deployed file computes what the Keras model computes."""

import importlib.util
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_abbnn
from networks import small

from larq_abbnn import layers, zoo
from larq_abbnn.analysis import count_multiplications, op_counts
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.converters import FoldError, VerificationError, convert, fold, verify
from larq_abbnn.layers import SpatialBias


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("step", [1, 2])
def test_fold_computes_the_same_function_in_float64(float64, name, step):
    # a quarter width: every layer and map size of the network, a quarter of the channels
    model = zoo.get(name)(
        input_shape=(64, 64, 3), num_classes=10, stem="imagenet", step=step, width_multiplier=0.25
    )
    trained_looking(model)
    folded = fold(model)
    x = np.random.default_rng(0).normal(size=(4, 64, 64, 3))
    ours, theirs = folded(x).numpy(), model(x).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())
    kinds = {type(layer) for layer in folded.layers}
    assert layers.MaskLayer not in kinds and layers.QuantRPReLU not in kinds
    assert layers.BinaryScaledStdConv2D not in kinds
    if step == 2 and name.startswith("ab_"):
        # every alpha joined its binary conv's output multiplier
        assert not any(isinstance(layer, layers.Scale) for layer in folded.layers)


def test_folded_binary_convs_have_sign_kernels_and_merged_scales(float64):
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
    folded = fold(model)
    conv = folded.get_layer("layer2.0.conv1")
    kernel = conv.kernel.numpy()
    np.testing.assert_array_equal(np.abs(kernel), 1.0)
    original = model.get_layer("layer2.0.conv1")
    w_hat = original.kernel_quantizer(original.kernel).numpy()  # a * sign(w_hat)
    expected = np.abs(w_hat).mean(axis=(0, 1, 2)) * original.gain.numpy() * 0.25
    np.testing.assert_allclose(conv.gain.numpy(), expected, rtol=1e-13)
    # the bias after the residual add moved onto the conv's output: LCE fuses it there
    np.testing.assert_array_equal(conv.bias.numpy(), model.get_layer("layer2.0.move1").bias)
    names = {layer.name for layer in folded.layers}
    assert "layer2.0.move1" not in names
    # a block's last bias left the residual stream: the next sign's bias and the next
    # binary conv took it (the downsampling shortcut conv cannot, so layer1.3's stays)
    bias = lambda name: model.get_layer(name).bias.numpy()  # noqa: E731
    assert "layer2.0.move2" not in names and "layer1.3.move2" in names
    np.testing.assert_allclose(
        folded.get_layer("layer2.1.conv1").bias.numpy(),
        bias("layer2.1.move1") + bias("layer2.0.move2"),
        rtol=1e-15,
    )
    beta = model.get_layer("layer2.1.move0").divisor
    np.testing.assert_allclose(
        folded.get_layer("layer2.1.move0").bias.numpy(),
        bias("layer2.1.move0") / beta + bias("layer2.0.move2"),
        rtol=1e-15,
    )


def _tiny(mask_before=None, alpha=0.25):
    inputs = tf.keras.Input((8, 8, 4))
    x = layers.LearnableBias(divisor=0.9, name="move0")(inputs)
    x = layers.MaskLayer(0.9, name="mask")(x)
    if mask_before is not None:
        x = mask_before(x)
    y = layers.BinaryScaledStdConv2D(4, 3, name="conv")(x)
    y = layers.Scale(alpha, name="alpha")(y)
    y = tf.keras.layers.Add(name="add")([y, inputs])
    return tf.keras.Model(inputs, layers.QuantRPReLU(name="prelu")(y))


def test_fold_refuses_graphs_it_cannot_fold_exactly():
    with pytest.raises(FoldError, match="MaskLayer 'mask' feeds 'relu', which does not binarize"):
        fold(_tiny(mask_before=tf.keras.layers.ReLU(name="relu")))
    model = _tiny(alpha=0.3)
    # alpha right after a binary conv joins its multiplier: fine even if not 2**k ...
    fold(model)
    # ... but a stand-alone non-power-of-two scale in an A&B model is refused
    inputs = tf.keras.Input((8, 8, 4))
    x = layers.MaskLayer(0.5, name="mask")(inputs)
    x = layers.BinaryScaledStdConv2D(4, 3, name="conv")(x)
    x = layers.Scale(0.3, name="beta")(tf.keras.layers.Add()([x, inputs]))
    with pytest.raises(FoldError, match="Scale 'beta' multiplies by 0.3, not a power of two"):
        fold(tf.keras.Model(inputs, x))
    inputs = tf.keras.Input((8, 8, 4))
    odd = tf.keras.layers.Lambda(lambda t: t * 2, name="custom")(inputs)
    with pytest.raises(FoldError, match="layer 'custom' \\(Lambda\\) is not one the fold knows"):
        fold(tf.keras.Model(inputs, odd))


@pytest.mark.parametrize(
    "name,size,stem",
    [
        ("ab_reactnet18", 32, "cifar"),
        ("ab_reactneta", 96, "imagenet"),
        ("ab_xnornet18", 96, "imagenet"),
    ],
)
def test_converted_folded_model_verifies(name, size, stem):
    # a quarter width: every layer, map size and LCE op of the network, faster
    model = zoo.get(name)(
        input_shape=(size, size, 3), num_classes=10, stem=stem, width_multiplier=0.25
    )
    trained_looking(model)
    flatbuffer = convert(model)
    ops = op_counts(flatbuffer)
    assert ops["LceBconv2d"] == zoo.binary_conv_count(model)
    if name == "ab_reactneta":
        # the biases merged down to one ADD per binary conv's residual add, per sign's
        # bias, and the head's (unfolded: 92). At 96 px the last maps are 3x3, so no
        # tiny-map padding correction adds an ADD.
        assert ops["LceBconv2d"] == 31 and ops["LceQuantize"] == 26
        assert ops["ADD"] == 31 + 26 + 1, ops
    result = verify(model, flatbuffer, samples=64)
    assert result.float64_relative_difference < 1e-12  # the README's fold exactness
    assert min(result.folded_exact, result.file_exact) >= 0.75


def test_verify_fails_loudly_when_the_file_computes_something_else():
    model, other = small(), small(seed=1)
    with pytest.raises(VerificationError, match="within float32 rounding: 32 inputs") as info:
        verify(model, convert(other), samples=32)
    assert "TFLite (LCE interpreter) 0.0%" in str(info.value)


def test_verify_refuses_a_fold_that_is_off_by_less_than_float32_can_see(monkeypatch):
    """The float64 check: a fold whose logits are off by 1e-6 of their scale (below float32
    rounding, so the float32 checks pass) fails verification."""
    import importlib

    module = importlib.import_module("larq_abbnn.converters.verify")
    model = small()
    flatbuffer = convert(model)
    assert verify(model, flatbuffer, samples=8).float64_relative_difference < 1e-12

    def fold_off_by_a_little(m, **options):
        folded = fold(m, **options)
        kernel, bias = folded.get_layer("fc").get_weights()
        folded.get_layer("fc").set_weights([kernel, bias + 1e-6])
        return folded

    monkeypatch.setattr(module, "fold", fold_off_by_a_little)
    with pytest.raises(VerificationError, match="the fold is not exact in float64"):
        verify(model, flatbuffer, samples=8)


def test_convert_command_converts_a_saved_model_atomically_and_audits(tmp_path):
    model = small()
    model.save(tmp_path / "xnor.keras")
    out = tmp_path / "xnor.tflite"
    result = run_abbnn(
        "convert",
        str(tmp_path / "xnor.keras"),
        "-o",
        str(out),
        "--audit",
        "--verify",
        "--verify-samples",
        "32",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LceBconv2d 4" in result.stdout
    assert "full_precision (the paper's MO): 0" in result.stdout
    assert "verify: 32 inputs" in result.stdout
    assert out.read_bytes()[4:8] == b"TFL3"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize(
    "name,size,stem",
    [  # ReActNet-A's case is slow: the ReActNet-18 one runs the same correction
        pytest.param("ab_reactneta", 32, "cifar", marks=pytest.mark.slow),
        ("ab_reactnet18", 64, "imagenet"),
    ],
)
def test_binary_convs_on_maps_smaller_than_the_kernel_are_deployed_correctly(name, size, stem):
    """LCE 0.16 miscomputes them with zero padding (see test_lce_conversion); the fold
    pads with +1 and corrects after the residual add."""
    model = zoo.get(name)(
        input_shape=(size, size, 3), num_classes=10, stem=stem, width_multiplier=0.25
    )
    trained_looking(model)
    folded = fold(model)
    fixes = [layer for layer in folded.layers if isinstance(layer, SpatialBias)]
    assert len(fixes) == (1 if name == "ab_reactneta" else 3)
    result = verify(model, convert(model), samples=64)
    assert result.file_exact >= 0.75 and result.float64_relative_difference < 1e-12


def test_strided_binary_convs_on_maps_smaller_than_the_kernel_are_refused_by_name():
    model = zoo.BNReActNet18(
        input_shape=(32, 32, 3), num_classes=10, stem="imagenet", width_multiplier=0.25
    )
    with pytest.raises(
        FoldError,
        match=r"'layer4\.0\.binary_conv' pads zeros at stride \(2, 2\) "
        r"on a map \(2, 2\).*CIFAR stem",
    ):
        fold(model)


def test_padding_correction_is_exact_in_float64(float64):
    model = zoo.ABReActNetA(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
    folded = fold(model)
    assert folded.get_layer("feature.13.add1.padding_correction")
    assert folded.get_layer("feature.13.binary_3x3").pad_values == 1.0
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3))
    a, b = folded(x).numpy(), model(x).numpy()
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


def test_folded_model_saves_and_loads(tmp_path):
    # ReActNet-A's blocks down to a 2x2 map, and one more on it: every class the fold
    # writes, the padding correction (SpatialBias) included
    blocks = [(1, 1, 1.0, 1.0), *[(2, 2, 1.0, 1.0)] * 3, (1, 1, 1.0, 1.0)]
    model = small(kind="reactnet_a", blocks=blocks, input_size=16)
    folded = fold(model)
    assert any(isinstance(layer, SpatialBias) for layer in folded.layers)
    folded.save(tmp_path / "folded.keras")
    restored = tf.keras.models.load_model(tmp_path / "folded.keras")
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), folded.predict(x, verbose=0))
    # folding fold's output would standardize +-1 kernels again (0.77 relative error)
    for already_folded in (folded, restored):
        with pytest.raises(FoldError, match="layer 'conv1' is already folded"):
            fold(already_folded)


def test_damaged_tflite_files_give_one_clear_error(small_tflite):
    rng = np.random.default_rng(0)
    damaged = [
        small_tflite[: len(small_tflite) // 3],  # truncated
        small_tflite[:8] + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),  # garbage
    ]
    flipped = bytearray(small_tflite)
    for i in rng.integers(8, 2048, 64):  # corrupt offsets in the header tables
        flipped[i] ^= 0xFF
    damaged.append(bytes(flipped))
    for data in damaged:
        for read in (op_counts, count_multiplications):
            with pytest.raises(ValueError, match="TFLite|tensor|operator|buffer") as error:
                read(data)
            assert len(str(error.value).splitlines()) == 1, (read.__name__, error.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_every_zoo_model_verifies_at_224_on_256_inputs(name):
    """`verify`'s guarantee at 224 px on 256 random inputs, every zoo model (about a
    minute each here): the fold exact in float64, folded and TFLite outputs equal to
    Keras's within float32 rounding on at least half of the inputs (measured with these
    random weights: folded 82-98%, TFLite 59-88%; the deeper ReActNet-34 and ReActNet-A
    flip a sign on more inputs). ABBiResNet18's logits are near-tied (median top-2 margin
    0.03 of 2.2): 1 to 2% of its argmaxes differ where a sign flipped, so argmax
    agreement is reported, not required."""
    model = zoo.get(name)()
    trained_looking(model)
    result = verify(model, convert(model), samples=256)  # raises below the guarantee
    assert result.float64_relative_difference < 1e-12
    print(name, result)


def test_the_output_suffix_picks_the_format_and_a_missing_extra_is_named(monkeypatch):
    from larq_abbnn.converters import extras, formats

    assert formats.of_path("a/model.tflite") is formats.TFLITE
    assert formats.of_path("model.onnx") is formats.QONNX
    with pytest.raises(ValueError, match=r"model\.pb: the file name must end in \.tflite or"):
        formats.of_path("model.pb")
    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name: None)
    message = r'\.onnx files need onnx, onnxruntime, qonnx: pip install "larq-abbnn\[onnx\]"'
    with pytest.raises(ImportError, match=message):
        formats.QONNX.check_installed()
    formats.TFLITE.check_installed()  # needs nothing beyond the base install


def test_the_converted_files_say_what_they_take_and_return(tmp_path):
    """The deployed file's contract in its own metadata (issue 31): a board reads the
    normalization and that the output is logits from the file; the interpreter still runs it."""
    from larq_abbnn.converters import contract, formats
    from larq_abbnn.data import transforms

    model = small()
    flatbuffer = convert(model)
    record = contract.read(flatbuffer)
    assert record["input"]["layout"] == "NHWC" and record["output"].startswith("logits")
    assert (record["input"]["mean"], record["input"]["std"]) == (
        list(transforms.MEAN),
        list(transforms.STD),
    )
    names = _metadata_names(flatbuffer)
    assert contract.NAME in names and "min_runtime_version" in names  # LCE's own kept
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    logits = formats.TFLITE.run(flatbuffer, x)  # the file still runs, as before the record
    assert logits.shape == (2, 10) and np.isfinite(logits).all()
    assert (logits.argmax(1) == model.predict(x, verbose=0).argmax(1)).all()
    pytest.importorskip("qonnx")
    from larq_abbnn.converters import to_qonnx

    assert contract.read(to_qonnx(model))["input"]["layout"] == "NCHW"


def _metadata_names(flatbuffer: bytes) -> list[str]:
    from larq_compute_engine.mlir.python import tflite_schema

    model = tflite_schema.Model.GetRootAsModel(flatbuffer, 0)
    return [model.Metadata(i).Name().decode() for i in range(model.MetadataLength())]


def test_a_uint8_pixel_file_normalizes_inside_and_computes_what_the_model_does():
    """`input_pixels="uint8"`: the board feeds its camera's bytes; the file casts and
    normalizes them (one MUL, outside the paper's count) and computes what the Keras model
    computes on `preprocess_input` of the same pixels."""
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    from larq_abbnn.analysis.audit import INPUT_NORMALIZATION
    from larq_abbnn.converters import contract, formats

    model = small()
    flatbuffer = convert(model, input_pixels="uint8")
    assert Interpreter(flatbuffer).input_types[0] == np.uint8
    record = contract.read(flatbuffer)["input"]
    assert record["dtype"] == "uint8" and record["mean"] == [0.485, 0.456, 0.406]
    assert op_counts(flatbuffer)["CAST"] == 1
    result = verify(model, flatbuffer, samples=32)  # uint8 pixels in, by the file's record
    assert result.float64_relative_difference < 1e-12
    assert min(result.folded_exact, result.file_exact) >= 0.75
    pixels = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="takes raw uint8 pixels .* got float32 images"):
        formats.TFLITE.run(flatbuffer, pixels.astype(np.float32))
    from larq_abbnn.analysis.benchmark import measure

    assert measure(flatbuffer, runs=1, warmup=0).median_ms > 0  # benchmark feeds it pixels
    # the audit: the same count as the normalized file's, the normalization excluded
    report, plain = count_multiplications(flatbuffer), count_multiplications(convert(model))
    assert (report.full_precision, report.shifts, report.binary_macs, report.family) == (
        plain.full_precision,
        plain.shifts,
        plain.binary_macs,
        plain.family,
    )
    normalization = [s for s in report.sources if s.note == INPUT_NORMALIZATION]
    assert [(s.kind, s.count) for s in normalization] == [("excluded", 32 * 32 * 3)]
    assert any(s.note == "first conv" for s in report.sources)
    keras = count_multiplications(fold(model, input_pixels="uint8"))
    assert [(s.kind, s.count) for s in keras.sources if s.note == INPUT_NORMALIZATION] == [
        ("excluded", 32 * 32 * 3)
    ]
    assert keras.full_precision == count_multiplications(fold(model)).full_precision


def test_fold_refuses_input_pixels_it_cannot_take():
    model = small()
    with pytest.raises(
        ValueError, match="input_pixels='float16': expected one of normalized, uint8"
    ):
        fold(model, input_pixels="float16")
    with pytest.raises(FoldError, match="already normalizes its pixels"):
        fold(fold(model, input_pixels="uint8"), input_pixels="uint8")
    inputs = tf.keras.Input((8, 8, 1))
    gray = tf.keras.Model(inputs, tf.keras.layers.GlobalAveragePooling2D()(inputs))
    with pytest.raises(
        FoldError,
        match="input '.*' of shape \\(None, 8, 8, 1\\): input_pixels='uint8' takes NHWC images of 3",
    ):
        fold(gray, input_pixels="uint8")


def test_one_convert_folds_once_and_checks_each_formats_options_first(monkeypatch):
    """`convert(model, format=...)` is the one way from a model to a file: it refuses an
    option the format's converter does not take (naming it) and an unknown format before
    folding, and `verify` given the fold the file came from does not fold again."""
    import importlib

    from larq_abbnn.converters import fold_and_convert

    pipeline = importlib.import_module("larq_abbnn.converters.pipeline")
    verify_module = importlib.import_module("larq_abbnn.converters.verify")
    model = small()
    folds = []
    real_fold = pipeline.fold
    monkeypatch.setattr(pipeline, "fold", lambda *a, **k: folds.append(1) or real_fold(*a, **k))
    with pytest.raises(TypeError, match="tflite conversion got unknown option.* pad_binary"):
        convert(model, pad_binary_with_ones=True)
    with pytest.raises(ValueError, match="unknown format 'onnx': expected 'tflite', 'qonnx'"):
        convert(model, format="onnx")
    assert folds == []  # refused before the fold
    stages = []
    conversion = fold_and_convert(model, on_stage=stages.append)
    assert len(folds) == 1 and stages[1] == "converting with Larq Compute Engine (MLIR)"
    assert op_counts(conversion.converted)["LceBconv2d"] == 4

    verify_folds = []
    real_verify_fold = verify_module.fold

    def counted(*args, **kwargs):
        verify_folds.append(tf.keras.backend.floatx())
        return real_verify_fold(*args, **kwargs)

    monkeypatch.setattr(verify_module, "fold", counted)
    result = verify(model, conversion.converted, folded=conversion.folded, samples=8)
    assert result.float64_relative_difference < 1e-12
    assert verify_folds == ["float64"]  # only its float64 twin's fold, not the model's again
    verify(model, conversion.converted, samples=8)
    assert verify_folds == ["float64", "float32", "float64"]  # without it: folded here


def test_every_layer_a_folded_model_holds_has_an_export_and_an_audit_rule():
    """One layer table, checked: each class the fold takes or writes has a QONNX export
    rule and a Keras audit rule (or is listed as counting nothing), so a new layer cannot
    convert to TFLite and then fail the QONNX export or go uncounted."""
    from larq_abbnn.analysis.audit import KERAS_COUNTS_NOTHING, KERAS_RULES
    from larq_abbnn.converters.fold import OUTPUT_LAYERS, SUPPORTED_LAYERS
    from larq_abbnn.converters.qonnx.export import EXPORTS

    exported = (*(kind for kind, _ in EXPORTS), tf.keras.layers.InputLayer)
    audited = (*(kind for kind, _ in KERAS_RULES), *KERAS_COUNTS_NOTHING)
    assert [k.__name__ for k in OUTPUT_LAYERS if not issubclass(k, exported)] == []
    assert [
        k.__name__ for k in {*SUPPORTED_LAYERS, *OUTPUT_LAYERS} if not issubclass(k, audited)
    ] == []
    assert layers.PixelNormalization in OUTPUT_LAYERS and layers.MaskLayer not in OUTPUT_LAYERS


def test_the_audit_counts_as_fused_only_the_batch_norms_the_fold_joins():
    """A BatchNorm without beta (`center=False`) stays after its conv in the fold, so the
    audit counts its multiplications (the review: it was called fused)."""
    from larq_abbnn.converters.fold import joined_batch_norms

    inputs = tf.keras.Input((8, 8, 3))
    x = layers.ScaledStdConv2D(4, 3, padding="symmetric", name="conv_a")(inputs)
    x = tf.keras.layers.BatchNormalization(name="joined")(x)
    x = layers.ScaledStdConv2D(4, 3, padding="symmetric", name="conv_b")(x)
    x = tf.keras.layers.BatchNormalization(center=False, name="kept")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(2)(x))
    assert joined_batch_norms(model) == {"joined"}
    assert "kept" in {layer.name for layer in fold(model).layers}
    kinds = {s.label: s.kind for s in count_multiplications(model, family="bn").sources}
    assert kinds["BatchNormalization joined"] == "fused"
    assert kinds["BatchNormalization kept"] == "full_precision"


def _head(x):
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.layers.Dense(2)(x)


def _folding():
    import importlib

    return importlib.import_module("larq_abbnn.converters.fold")  # the module, not fold()


def _alone(model, step):
    """`fold.plan` with one pass: what that pass alone decides."""
    return _folding().plan(model, passes=(step,))


def test_the_mask_pass_removes_masks():
    tiny = _tiny()  # bias -> mask -> binary conv -> alpha -> residual add -> Q-PReLU
    assert _alone(tiny, _folding().remove_masks).removed == {"mask"}


def test_the_scale_pass_joins_alpha_to_its_binary_conv():
    joined = _alone(_tiny(), _folding().join_scales)
    assert joined.removed == {"alpha"} and joined.convs["conv"].alpha == 0.25


def test_the_batch_norm_pass_joins_a_batch_norm_to_its_conv():
    inputs = tf.keras.Input((8, 8, 4))
    x = layers.ScaledStdConv2D(4, 3, name="conv")(inputs)
    bn = tf.keras.layers.BatchNormalization(name="bn")
    model = trained_looking(tf.keras.Model(inputs, _head(bn(x))))
    decided = _alone(model, _folding().join_batch_norms)
    scale, shift = layers.batch_norm_affine(bn)
    assert decided.removed == {"bn"}
    np.testing.assert_array_equal(decided.convs["conv"].bn_scale, scale)
    np.testing.assert_array_equal(decided.convs["conv"].bn_shift, shift)


def test_the_bias_passes_move_biases_onto_convs_and_into_the_next_bias():
    inputs = tf.keras.Input((8, 8, 4))
    y = layers.BinaryScaledStdConv2D(4, 3, name="conv")(inputs)
    y = tf.keras.layers.Add(name="add")([y, inputs])
    model = trained_looking(
        tf.keras.Model(inputs, _head(layers.LearnableBias(name="after_add")(y)))
    )
    back = _alone(model, _folding().move_biases_back)
    assert back.removed == {"after_add"}
    np.testing.assert_array_equal(
        back.convs["conv"].moved_bias, model.get_layer("after_add").bias.numpy()
    )
    inputs = tf.keras.Input((8, 8, 4))
    y = layers.LearnableBias(name="first")(inputs)
    y = layers.LearnableBias(name="second")(y)
    model = trained_looking(tf.keras.Model(inputs, _head(layers.BinaryScaledStdConv2D(4, 3)(y))))
    forward = _alone(model, _folding().move_biases_forward)
    assert forward.removed == {"first"} and set(forward.extra_bias) == {"second"}
    np.testing.assert_allclose(
        forward.value(model.get_layer("second")),
        model.get_layer("first").bias.numpy() + model.get_layer("second").bias.numpy(),
    )


def test_the_padding_pass_corrects_at_the_add_after_the_scale_pass():
    """A 2x2 map under a 3x3 binary conv: corrected at the residual add, which the padding
    pass finds through the alpha only once join_scales has removed it (their order)."""
    folding = _folding()
    inputs = tf.keras.Input((2, 2, 4))
    y = layers.BinaryScaledStdConv2D(4, 3, name="conv")(inputs)
    y = tf.keras.layers.Add(name="add")([layers.Scale(0.25, name="alpha")(y), inputs])
    model = tf.keras.Model(inputs, _head(y))
    with pytest.raises(FoldError, match="does not feed a residual add"):
        _alone(model, folding.correct_padding)
    ordered = folding.plan(model, passes=(folding.join_scales, folding.correct_padding))
    assert ordered.convs["conv"].corrected_at == "add" and set(ordered.corrections) == {"add"}
    assert folding.PASSES.index(folding.join_scales) < folding.PASSES.index(folding.correct_padding)


def test_power_of_two_scales_fold_to_shifts_verify_and_audit_without_scalings():
    """Issue 33's option: every binary conv's folded scale (alpha joined) is a power of two,
    both files compute what Keras does, and the audit of each dialect counts the scales as
    shifts: MO 0 and no binary-conv scaling left."""
    from larq_abbnn.analysis.audit import POWER_OF_TWO_SCALE
    from larq_abbnn.families import is_power_of_two

    model = small(power_of_two_scales=True)
    folded = fold(model)
    binary = [layer for layer in folded.layers if layers.is_binary_conv(layer)]
    assert len(binary) == 4 and all(is_power_of_two(layer.gain.numpy()) for layer in binary)
    files = {"tflite": convert(model)}
    if importlib.util.find_spec("qonnx"):  # the [onnx] extra
        files["qonnx"] = convert(model, format="qonnx")
    for converted in files.values():
        verify(model, converted, samples=16)  # raises VerificationError if it differs
    for dialect in (model, *files.values()):
        report = count_multiplications(dialect)
        kinds = {s.kind for s in report.sources}
        assert report.full_precision == 0 and "binary_conv_scaling" not in kinds
        assert [s.note for s in report.sources if s.kind == "shift"].count(POWER_OF_TWO_SCALE) >= 1
