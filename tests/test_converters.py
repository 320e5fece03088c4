"""Fold, convert, verify, audit: the deployed file computes the model, and counts."""

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_abbnn

from larq_abbnn import layers, zoo
from larq_abbnn.analysis import count_multiplications, op_counts
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.conversion import FoldError, VerificationError, convert, fold, verify
from larq_abbnn.zoo import reactnet_a


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
@pytest.mark.parametrize("step", [1, 2])
def test_fold_computes_the_same_function_in_float64(float64, name, step):
    model = zoo.get(name)(input_shape=(64, 64, 3), num_classes=10, stem="imagenet", step=step)
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


def test_fold_merges_biases_down_to_one_add_per_sign_and_residual():
    """ReActNet-A: each binary conv's residual add, each sign's bias, the head's bias."""
    # 96 px: the last maps are 3x3, so no tiny-map padding correction adds an ADD
    model = trained_looking(
        zoo.ABReActNetA(input_shape=(96, 96, 3), num_classes=10, stem="imagenet")
    )
    ops = op_counts(convert(model))
    assert ops["LceBconv2d"] == 31 and ops["LceQuantize"] == 26
    assert ops["ADD"] == 31 + 26 + 1, ops  # unfolded biases would make it 92


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


# -- the multiplication audit (the paper's MO column) ----------------------------------------

REQUIRED_MO = {  # 224x224, the paper's MO column (the spec's section 3)
    "bnfree_reactneta": 14_651_392,
    "bnfree_reactnet18": 4_779_264,
    "ab_reactnet18": 0,
    "ab_reactnet34": 0,
    "ab_reactneta": 0,
    "ab_biresnet18": 0,
    "ab_xnornet18": 0,
}


@pytest.mark.parametrize("name", sorted(REQUIRED_MO))
def test_keras_audit_gives_the_papers_numbers_at_224(name):
    report = count_multiplications(zoo.get(name)())
    assert report.full_precision == REQUIRED_MO[name]
    if name.startswith("ab_"):
        assert report.family == "ab" and report.shifts > 0


def _bn_hand_count(name: str) -> tuple[int, int]:
    """The BN baselines at 224 by hand: (MO, BatchNorm outputs). MO is one multiplication
    per PReLU output inside the blocks and per 2x2 average-pool output (their slopes and
    the 1/4 are not powers of two in the BN-Free rule); every BatchNorm follows a conv
    and is fused into it (the stem's conv, a binary conv's output multiplier)."""
    if name == "bn_reactnet18":
        stages = [(56, 64), (28, 128), (14, 256), (7, 512)]  # (output size, width), 4 blocks
        prelus = sum(4 * size * size * width for size, width in stages)
        pools = sum(size * size * width // 2 for size, width in stages[1:])  # of the input
        shortcuts = sum(size * size * width for size, width in stages[1:])  # 1x1 conv + BN
        # BatchNorms: the stem's (112x112x64 before the max-pool), one per block output
        # (after its binary conv), one per shortcut
        return prelus + pools, 112 * 112 * 64 + prelus + shortcuts
    channels = reactnet_a.CHANNELS
    size, prelus, pools, bns = 112, 0, 0, 112 * 112 * channels[0]
    for c_in, c_out, stride in zip(channels, channels[1:], reactnet_a.block_strides()):
        size //= stride
        prelus += size * size * (c_in + c_out)
        pools += size * size * c_in if stride == 2 else 0
        bns += size * size * (c_in + c_out)
    return prelus + pools, bns


@pytest.mark.parametrize("name", ["bn_reactnet18", "bn_reactneta"])
def test_bn_baselines_audit_counts_prelus_and_pools_and_fuses_batch_norm(name):
    mo, batch_norm = _bn_hand_count(name)
    report = count_multiplications(zoo.get(name)())
    assert report.family == "bnfree"  # every product counts, as the paper's BN-Free rule
    assert (report.full_precision, report.fused, report.shifts) == (mo, batch_norm, 0)
    assert report.binary_conv_scaling > 0 and report.binary_macs > 0


@pytest.mark.parametrize(
    "name", ["bn_reactnet18", pytest.param("bn_reactneta", marks=pytest.mark.slow)]
)
def test_bn_baselines_convert_with_batch_norm_fused_and_audit_as_in_keras(name):
    """The fold joins every BatchNorm to its conv (inside the stride-2 convs' flips, where
    the converter could not): no MUL is left, the file's MO equals the Keras audit."""
    model = trained_looking(zoo.get(name)(input_shape=(64, 64, 3), num_classes=10, stem="imagenet"))
    flatbuffer = convert(model)
    ops = op_counts(flatbuffer)
    assert "MUL" not in ops and ops["LceBconv2d"] == zoo.binary_conv_count(model)
    assert count_multiplications(flatbuffer).full_precision == (
        count_multiplications(model).full_precision
    )
    verify(model, flatbuffer, samples=16)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ab_reactneta", "bnfree_reactneta"])
def test_converted_file_audit_gives_the_papers_numbers_at_224(name):
    """The README's 224 px numbers in the converted file: A&B 0 as in Keras. BN-Free
    14,651,392 in Keras (the paper's) minus what deployment removes: every alpha joins
    LceBconv2d's output multiplier (the fold), and LCE's converter removes the first beta
    multiply of the stride-1 blocks that follow the stem or a channel-doubling block (whose
    two 1x1 halves end in a concat): measured, 1,154,048."""
    model = trained_looking(zoo.get(name)())
    keras = count_multiplications(model)
    report = count_multiplications(convert(model))
    assert report.binary_conv_scaling == keras.binary_conv_scaling
    assert keras.full_precision == REQUIRED_MO[name]
    if name.startswith("ab_"):
        assert report.full_precision == 0
        return
    alphas = sum(s.count for s in keras.sources if s.label.startswith("Scale *.alpha"))
    # blocks without a pooled shortcut that follow the stem or a block ending in a concat
    names = {layer.name for layer in model.layers}
    after = {"feature.1"} | {
        f"feature.{int(layer.name.split('.')[1]) + 1}"
        for layer in model.layers
        if isinstance(layer, tf.keras.layers.Concatenate)
    }
    after = {block for block in after if f"{block}.pooling" not in names}
    first_betas = sum(
        int(np.prod(model.get_layer(f"{block}.beta1").output_shape[1:])) for block in after
    )
    assert sorted(after) == ["feature.1", "feature.13", "feature.3", "feature.5", "feature.7"]
    assert (alphas, first_betas) == (4_641_280, 1_154_048)
    assert report.full_precision == keras.full_precision - alphas - first_betas == 8_856_064
    assert not any(s.label.startswith("MUL *.alpha") for s in report.sources)


def test_bnfree_reactnet18_paper_figure_is_three_per_binary_conv_output_plus_pools():
    report = count_multiplications(zoo.BNFreeReActNet18())
    by_label = {s.label: s.count for s in report.sources if s.kind == "full_precision"}
    conv_outputs = by_label["Scale *.alpha"]  # one alpha per binary 3x3 conv output
    pools = by_label["AveragePooling2D *.downsample.0"]
    assert 3 * conv_outputs + pools == 4_603_648  # the paper's 4.60 M
    assert report.binary_conv_scaling == conv_outputs + 175_616  # + 1x1 shortcut convs


def test_bi_resnet_lists_the_full_precision_layers_the_paper_leaves_out():
    report = count_multiplications(zoo.ABBiResNet18())
    excluded = {s.label: s for s in report.sources if s.kind == "paper_excluded"}
    assert set(excluded) == {"PReLU prelu1", "PReLU prelu2", "ScaledStdConv2D *.downsample.1"}
    assert excluded["ScaledStdConv2D *.downsample.1"].instances == 3
    assert report.full_precision == 0
    assert "paper_excluded" in report.table()


def _ab_net_with(extra: str) -> tf.keras.Model:
    """A small A&B ReActNet-18 (zoo blocks) whose block `layer2.0` holds one layer the
    paper's rule does not exempt: a real 3x3 conv after the residual add, a real 1x1 conv
    between the binary conv and the add (where Bi-ResNet's exempt shortcut conv is not),
    a real PReLU, or a scale that is not a power of two."""
    from larq_abbnn.zoo import config, parts, resnet

    cfg = config.Config(stem="cifar", step=2, padding="one", width_multiplier=0.25)
    inputs = parts.model_input((16, 16, 3), None)[0]
    x = resnet.ab_reactnet_block(resnet.stem(inputs, cfg), 16, 1, 0.25, 1.0, cfg, "layer1.0")
    name = "layer2.0"
    h = layers.LearnableBias(divisor=0.9, name=f"{name}.move0")(x)
    h = layers.MaskLayer(0.9, name=f"{name}.mask")(h)
    y = cfg.binary_conv(16, 3, 1, f"{name}.conv1")(h)
    y = layers.Scale(0.25, name=f"{name}.alpha")(y)
    if extra == "conv_before_add":
        y = layers.ScaledStdConv2D(16, 1, name=f"{name}.extra")(y)
    x = tf.keras.layers.Add(name=f"{name}.add")([y, x])
    if extra == "conv":
        x = layers.ScaledStdConv2D(16, 3, padding="same", name=f"{name}.extra")(x)
    elif extra == "prelu":
        x = tf.keras.layers.PReLU(shared_axes=[1, 2], name=f"{name}.extra")(x)
    elif extra == "scale":
        x = layers.Scale(0.3, name=f"{name}.extra")(x)
    x = resnet._rprelu_tail(x, name, layers.QuantRPReLU(name=f"{name}.prelu"))
    outputs = parts.head(x, 10, True, pool_name="avgpool")
    return trained_looking(tf.keras.Model(inputs, outputs, name=f"ab_with_{extra}"))


@pytest.mark.parametrize("extra", ["conv", "conv_before_add", "prelu", "scale"])
def test_a_full_precision_layer_inside_an_a_and_b_block_is_counted_and_named(extra):
    """Only the paper's exemptions are exempt, found by structure: a real layer inside a
    block is MO > 0 under its own name, in Keras and in the converted file."""
    model = _ab_net_with(extra)
    graphs = {"keras": model}
    if extra == "scale":  # the fold refuses to deploy it, naming it
        with pytest.raises(FoldError, match=r"'layer2\.0\.extra'.*not a power of two"):
            convert(model)
    else:
        graphs["tflite"] = convert(model)
    for graph, source in graphs.items():
        report = count_multiplications(source)
        counted = [s for s in report.sources if s.kind == "full_precision"]
        assert report.family == "ab", (graph, report.table())
        # Keras names the layer; the file names the op and the block (the converter
        # fuses a conv with the bias after it and truncates the fused tensor's name)
        where = ".extra" if graph == "keras" or extra == "prelu" else "layer2.0."
        assert len(counted) == 1 and where in counted[0].label, (graph, report.table())
        assert report.full_precision == counted[0].count > 0


def test_tflite_audit_of_the_folded_a_and_b_model_is_zero_and_reads_the_flatbuffer():
    model = zoo.ABReActNet18(input_shape=(64, 64, 3), num_classes=10)
    trained_looking(model)
    flatbuffer = convert(model)
    report = count_multiplications(flatbuffer)
    assert report.family == "ab" and report.full_precision == 0
    ops = op_counts(flatbuffer)
    assert "MUL" not in ops and ops["PRELU"] == 16 and ops["LceBconv2d"] == 16
    # binary conv scaling counted per output element of every binary conv, as in Keras
    assert report.binary_conv_scaling == count_multiplications(model).binary_conv_scaling
    bnfree = count_multiplications(
        convert(zoo.BNFreeReActNet18(input_shape=(64, 64, 3), num_classes=10))
    )
    assert bnfree.family == "bnfree" and bnfree.full_precision > 0


def test_audit_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        count_multiplications(b"\x00" * 64)
    with pytest.raises(TypeError, match="expected a Keras model or TFLite bytes"):
        count_multiplications("model.tflite")


# -- convert and verify -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,size,stem",
    [
        ("ab_reactnet18", 32, "cifar"),
        ("ab_reactneta", 96, "imagenet"),
        ("ab_xnornet18", 96, "imagenet"),
    ],
)
def test_converted_folded_model_verifies(name, size, stem):
    model = zoo.get(name)(input_shape=(size, size, 3), num_classes=10, stem=stem)
    trained_looking(model)
    flatbuffer = convert(model)
    assert op_counts(flatbuffer)["LceBconv2d"] == zoo.binary_conv_count(model)
    result = verify(model, flatbuffer, samples=64)
    assert result.float64_relative_difference < 1e-12  # the README's fold exactness
    assert min(result.folded_exact, result.tflite_exact) >= 0.75


def test_verify_fails_loudly_when_the_file_computes_something_else():
    model = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
    other = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(other, seed=1)
    with pytest.raises(VerificationError, match="within float32 rounding: 32 inputs") as info:
        verify(model, convert(other), samples=32)
    assert "TFLite (LCE interpreter) 0.0%" in str(info.value)


def test_verify_refuses_a_fold_that_is_off_by_less_than_float32_can_see(monkeypatch):
    """The float64 check: a fold whose logits are off by 1e-6 of their scale (below float32
    rounding, so the float32 checks pass) fails verification."""
    import importlib

    module = importlib.import_module("larq_abbnn.conversion.verify")
    model = trained_looking(
        zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    )
    flatbuffer = convert(model)
    assert verify(model, flatbuffer, samples=8).float64_relative_difference < 1e-12

    def fold_off_by_a_little(m):
        folded = fold(m)
        kernel, bias = folded.get_layer("fc").get_weights()
        folded.get_layer("fc").set_weights([kernel, bias + 1e-6])
        return folded

    monkeypatch.setattr(module, "fold", fold_off_by_a_little)
    with pytest.raises(VerificationError, match="the fold is not exact in float64"):
        verify(model, flatbuffer, samples=8)


def test_convert_command_converts_a_saved_model_atomically_and_audits(tmp_path):
    model = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
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
    assert "16 LceBconv2d" in result.stdout
    assert "full_precision (the paper's MO): 0" in result.stdout
    assert "verify: 32 inputs" in result.stdout
    assert out.read_bytes()[4:8] == b"TFL3"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_audit_command_reads_zoo_models_and_tflite_files(tmp_path):
    result = run_abbnn("audit", "zoo:bnfree_reactneta")
    assert result.returncode == 0 and "full_precision (the paper's MO): 14,651,392" in result.stdout
    (tmp_path / "junk.tflite").write_bytes(os.urandom(256))
    bad = run_abbnn("audit", str(tmp_path / "junk.tflite"))
    assert bad.returncode == 1 and "not a TFLite flatbuffer" in bad.stderr
    assert "Traceback" not in bad.stderr


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
    model = zoo.get(name)(input_shape=(size, size, 3), num_classes=10, stem=stem)
    trained_looking(model)
    folded = fold(model)
    fixes = [layer for layer in folded.layers if isinstance(layer, layers.SpatialBias)]
    assert len(fixes) == (1 if name == "ab_reactneta" else 3)
    result = verify(model, convert(model), samples=64)
    assert result.tflite_exact >= 0.75 and result.float64_relative_difference < 1e-12


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
    model = zoo.ABReActNetA(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
    folded = fold(model)
    folded.save(tmp_path / "folded.keras")
    restored = tf.keras.models.load_model(tmp_path / "folded.keras")
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), folded.predict(x, verbose=0))
    # folding fold's output would standardize +-1 kernels again (0.77 relative error)
    for already_folded in (folded, restored):
        with pytest.raises(FoldError, match="layer 'feature.0.conv1' is already folded"):
            fold(already_folded)


@pytest.fixture(scope="module")
def small_tflite():
    model = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    trained_looking(model)
    return convert(model)


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


def test_binary_macs_of_reactnet18_at_224_in_keras_and_tflite():
    """16 binary 3x3 convs of ResNet-18 shapes: 1,676,279,808 XNOR-popcount MACs."""
    model = zoo.ABReActNet18()
    expected = 4 * 56 * 56 * 64 * 9 * 64 + 3 * (
        28 * 28 * 128 * 9 * 64 + 3 * 28 * 28 * 128 * 9 * 128
    )  # stages 3 and 4 repeat stage 2's count
    assert expected == 1_676_279_808
    assert count_multiplications(model).binary_macs == expected
    assert count_multiplications(convert(model)).binary_macs == expected
