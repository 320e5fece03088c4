"""The multiplication audit (the paper's MO column) of Keras models and TFLite files."""

import os

import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn import layers, zoo
from larq_abbnn.analysis import count_multiplications, op_counts
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.converters import FoldError, convert, verify
from larq_abbnn.families import AB
from larq_abbnn.zoo import reactnet_a

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
    assert report.family == "bn"  # every product counts, as the paper counts its baselines
    assert (report.full_precision, report.fused, report.shifts) == (mo, batch_norm, 0)
    assert report.binary_conv_scaling > 0 and report.binary_macs > 0


@pytest.mark.parametrize(
    "name", ["bn_reactnet18", pytest.param("bn_reactneta", marks=pytest.mark.slow)]
)
def test_bn_baselines_convert_with_batch_norm_fused_and_audit_as_in_keras(name):
    """The fold joins every BatchNorm to its conv (inside the stride-2 convs' flips, where
    the converter could not): no MUL is left, the file's MO equals the Keras audit."""
    model = zoo.get(name)(
        input_shape=(64, 64, 3), num_classes=10, stem="imagenet", width_multiplier=0.25
    )
    flatbuffer = convert(trained_looking(model))
    ops = op_counts(flatbuffer)
    assert "MUL" not in ops and ops["LceBconv2d"] == zoo.binary_conv_count(model)
    report = count_multiplications(flatbuffer)
    assert report.family == "bn"  # the file's family, read from its ops (test_families)
    assert report.full_precision == count_multiplications(model).full_precision
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
    y = cfg.binary_conv(AB, 16, 3, 1, f"{name}.conv1")(h)
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
    model = zoo.ABReActNet18(input_shape=(64, 64, 3), num_classes=10, width_multiplier=0.25)
    trained_looking(model)
    flatbuffer = convert(model)
    report = count_multiplications(flatbuffer)
    assert report.family == "ab" and report.full_precision == 0
    ops = op_counts(flatbuffer)
    assert "MUL" not in ops and ops["PRELU"] == 16 and ops["LceBconv2d"] == 16
    # binary conv scaling counted per output element of every binary conv, as in Keras
    assert report.binary_conv_scaling == count_multiplications(model).binary_conv_scaling
    bnfree = count_multiplications(
        convert(
            zoo.BNFreeReActNet18(input_shape=(64, 64, 3), num_classes=10, width_multiplier=0.25)
        )
    )
    assert bnfree.family == "bnfree" and bnfree.full_precision > 0


def test_audit_refuses_what_is_not_a_model():
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        count_multiplications(b"\x00" * 64)
    with pytest.raises(
        TypeError, match="expected a Keras model, TFLite bytes or an onnx.ModelProto"
    ):
        count_multiplications("model.tflite")


def test_audit_command_reads_zoo_models_and_tflite_files(tmp_path, abbnn):
    code, stdout, _ = abbnn("audit", "zoo:bnfree_reactneta")
    assert code == 0 and "full_precision (the paper's MO): 14,651,392" in stdout
    (tmp_path / "junk.tflite").write_bytes(os.urandom(256))
    code, _, stderr = abbnn("audit", tmp_path / "junk.tflite")
    assert code == 1 and "not a TFLite flatbuffer" in stderr
    assert "Traceback" not in stderr


def test_binary_macs_of_reactnet18_at_224_in_keras_and_tflite():
    """16 binary 3x3 convs of ResNet-18 shapes: 1,676,279,808 XNOR-popcount MACs."""
    model = zoo.ABReActNet18()
    expected = 4 * 56 * 56 * 64 * 9 * 64 + 3 * (
        28 * 28 * 128 * 9 * 64 + 3 * 28 * 28 * 128 * 9 * 128
    )  # stages 3 and 4 repeat stage 2's count
    assert expected == 1_676_279_808
    assert count_multiplications(model).binary_macs == expected
    assert count_multiplications(convert(model)).binary_macs == expected


def test_binary_macs_count_the_models_channels_in_every_dialect_at_narrow_widths():
    """At width 0.25 the binary convs read 16-128 channels: LCE packs 16 into a 32-bit word,
    which the trial's TFLite count took for 32 channels (44,826,624 against Keras's
    34,209,792). One definition: the model's input channels, in Keras and in the file."""
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    layer1 = 4 * 32 * 32 * 16 * 9 * 16  # four 3x3 convs of 16 channels at 32x32
    stage = 16 * 16 * 32 * 9 * 16 + 3 * 16 * 16 * 32 * 9 * 32  # the first reads half
    expected = layer1 + 3 * stage  # stages 3 and 4: half the size, twice the channels
    assert expected == 34_209_792
    assert count_multiplications(model).binary_macs == expected
    assert count_multiplications(convert(model)).binary_macs == expected


def test_networks_that_are_not_the_papers_have_their_real_convs_and_dense_layers_counted():
    """The trial: Keras's ResNet50 audited as its BatchNorms alone (MO 216,064, none of its
    53 convs listed), a Dense model as MO 0. The paper's exemptions stay: the first conv
    (here after a ZeroPadding2D) and the last Linear (here before a softmax)."""
    resnet = tf.keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10)
    report = count_multiplications(resnet)
    convs = [layer for layer in resnet.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert len(convs) == 53
    outputs = [int(np.prod(layer.output_shape[1:])) for layer in convs]
    fan_ins = [int(np.prod(layer.kernel.shape[:-1])) for layer in convs]
    expected = sum(n * (fan_in + 1) for n, fan_in in zip(outputs[1:], fan_ins[1:]))  # + bias
    batch_norms = 216_064  # the trial's figure, all that was counted
    assert report.full_precision == expected + batch_norms == 76_699_648
    listed = [s for s in report.sources if s.note == "full-precision conv inside the network"]
    assert len(listed) == 52
    assert [s.count for s in report.sources if s.note == "first conv"] == [outputs[0] * fan_ins[0]]

    dense = tf.keras.Sequential([tf.keras.Input((20,)), tf.keras.layers.Dense(30),
                                 tf.keras.layers.Dense(10), tf.keras.layers.Softmax()])  # fmt: skip
    report = count_multiplications(dense)
    assert report.full_precision == 30 * 20 + 30
    assert [(s.kind, s.count) for s in report.sources if s.note == "head: last Linear"] == [
        ("excluded", 10 * 30)
    ]


def test_a_keras_model_is_an_op_graph_the_file_dialects_walks_read():
    """`keras_graph.Graph`: one op per layer by kind, tensors named by layer, the input
    found through data movement and the input's normalization (as the file readers), so
    the exemptions are the same functions in the three dialects."""
    from larq_abbnn.analysis import keras_graph

    inputs = tf.keras.Input((8, 8, 3), dtype="uint8")
    x = layers.PixelNormalization((0.5,) * 3, (0.25,) * 3, name="norm")(inputs)
    x = tf.keras.layers.ZeroPadding2D(1, name="pad")(x)
    x = layers.ScaledStdConv2D(4, 3, name="stem")(x)
    y = tf.keras.layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    y = tf.keras.layers.GlobalAveragePooling2D(name="pool")(y)
    g = keras_graph.Graph(tf.keras.Model(inputs, tf.keras.layers.Dense(2, name="head")(y)))
    assert [op.name for op in g.ops] == [
        "PixelNormalization", "MovesData", "Conv", "PRelu", "GlobalAveragePool", "Dense",
    ]  # fmt: skip
    stem = g.ops[g.producer["stem"]]
    assert stem.inputs == ["pad"] and g.from_input(stem.inputs[0])
    assert g.source("pad") == "norm" and not g.from_input("prelu")
    assert [g.ops[k].layer.name for k in g.consumers["prelu"]] == ["pool"]
    assert g.ancestors("pool") == {"pool", "prelu", "stem", "pad", "norm", *g.graph_inputs}
