import io
from contextlib import redirect_stdout

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from larq_abbnn import layers, zoo
from larq_abbnn.checkpoints import reference_entries

NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}


def _build(name, step, dataset, **kwargs):
    # Parameter counts do not depend on the input size: small inputs build fast.
    stem = "imagenet" if dataset == "imagenet" else "cifar"
    size = 64 if stem == "imagenet" else 32
    return zoo.get(name)(
        input_shape=(size, size, 3),
        num_classes=NUM_CLASSES[dataset],
        step=step,
        stem=stem,
        **kwargs,
    )


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_parameters_and_layout_equal_the_reference_checkpoints(name, reference_state_dicts):
    """Every released configuration: count, keys and shapes of the PyTorch state dict."""
    for step_key, datasets in reference_state_dicts[name].items():
        for dataset, reference in datasets.items():
            model = _build(name, int(step_key[-1]), dataset)
            where = f"{name} {step_key} {dataset}"
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            assert trainable == reference["trainable_params"], where
            # BN baselines keep BatchNorm's running statistics, as buffers in PyTorch
            assert all("moving_" in w.name for w in model.non_trainable_weights), where
            entries = reference_entries(model)
            # PyTorch orders keys by module registration, Keras by graph: compare as mappings.
            shapes = {key: list(entry.reference_shape) for key, entry in entries.items()}
            assert shapes == reference["state_dict"], where
            tf.keras.backend.clear_session()


def _resnet_block(model, module):
    names = {layer.name for layer in model.layers}
    conv = model.get_layer(
        f"{module}.conv1" if f"{module}.conv1" in names else f"{module}.binary_conv"
    )
    if f"{module}.mask" in names:
        beta = model.get_layer(f"{module}.mask").beta
        if f"{module}.move0" in names:  # the bias ahead of the mask holds b / beta
            assert model.get_layer(f"{module}.move0").divisor == beta
    else:
        beta = model.get_layer(f"{module}.beta").scale
        assert model.get_layer(f"{module}.move0").divisor == 1.0
    return {
        "module": module,
        "alpha": model.get_layer(f"{module}.alpha").scale,
        "beta": beta,
        "stride": conv.strides[0],
    }


def _reactnet_a_block(model, module):
    names = {layer.name for layer in model.layers}
    conv = model.get_layer(f"{module}.binary_3x3")
    if f"{module}.mask1" in names:
        beta1, beta2 = (model.get_layer(f"{module}.mask{i}").beta for i in (1, 2))
        assert model.get_layer(f"{module}.move11").divisor == beta1
        assert model.get_layer(f"{module}.move21").divisor == beta2
    else:
        beta1, beta2 = (model.get_layer(f"{module}.beta{i}").scale for i in (1, 2))
    alpha2 = f"{module}.alpha2" if f"{module}.alpha2" in names else f"{module}.alpha2_1"
    assert model.get_layer(alpha2).scale == model.get_layer(f"{module}.alpha1").scale
    return {
        "module": module,
        "alpha": model.get_layer(f"{module}.alpha1").scale,
        "beta1": beta1,
        "beta2": beta2,
        "stride": conv.strides[0],
        "inplanes": int(conv.kernel.shape[2]),
        "planes": int(model.get_layer(f"{module}.move23").bias.shape[0]),
    }


def _bn_block(model, module):
    """BN baselines: no alpha or beta, BatchNorm instead."""
    names = {layer.name for layer in model.layers}
    if f"{module}.binary_3x3" in names:  # ReActNet-A
        conv = model.get_layer(f"{module}.binary_3x3")
        return {
            "module": module,
            "stride": conv.strides[0],
            "inplanes": int(conv.kernel.shape[2]),
            "planes": int(model.get_layer(f"{module}.move23").bias.shape[0]),
        }
    return {"module": module, "stride": model.get_layer(f"{module}.binary_conv").strides[0]}


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_every_block_alpha_beta_and_stride_equal_the_reference(name, reference_blocks):
    model = zoo.get(name)(input_shape=(64, 64, 3), num_classes=10)
    if name.startswith("bn_"):
        read = _bn_block
    else:
        read = _reactnet_a_block if "reactneta" in name else _resnet_block
    assert [read(model, block["module"]) for block in reference_blocks[name]] == reference_blocks[
        name
    ]


@pytest.mark.parametrize(
    "input_shape,stem,include_top,expected",
    [
        ((32, 32, 3), None, True, (None, 10)),
        ((32, 32, 3), None, False, (None, 4, 4, 512)),
        ((224, 224, 3), None, False, (None, 7, 7, 512)),
        ((64, 64, 3), "cifar", False, (None, 8, 8, 512)),
        ((64, 64, 3), None, False, (None, 8, 8, 512)),
        ((96, 64, 3), None, False, (None, 3, 2, 512)),
        ((96, 64, 3), "imagenet", False, (None, 3, 2, 512)),
        ((32, 32, 3), "imagenet", False, (None, 1, 1, 512)),
    ],
)
def test_output_shapes_and_stem_defaults(input_shape, stem, include_top, expected):
    """The default stem is CIFAR's up to 64 px (the data pipeline's rule), else ImageNet's."""
    model = zoo.ABReActNet18(
        input_shape=input_shape, num_classes=10, include_top=include_top, stem=stem
    )
    assert model.output_shape == expected
    cifar_stem = model.get_layer("conv1").kernel_size == (3, 3)
    assert cifar_stem == (stem == "cifar" or (stem is None and max(input_shape[:2]) <= 64))


@pytest.mark.parametrize("model", [zoo.ABReActNet18, zoo.BNFreeReActNetA, zoo.ABBiResNet18])
def test_input_size_that_cannot_meet_a_pooled_shortcut_is_refused(model):
    # 208 = 16 * 13: the last stride-2 block sees 13x13
    with pytest.raises(ValueError, match=r"block (layer4.0|feature.12) gets a 13x13 feature map"):
        model(input_shape=(208, 208, 3))


def test_reactnet_a_output_shapes():
    assert zoo.ABReActNetA(include_top=False).output_shape == (None, 7, 7, 1024)
    assert zoo.ABReActNetA(input_shape=(32, 32, 3), num_classes=100).output_shape == (None, 100)
    small = zoo.ABReActNetA(input_shape=(32, 32, 3), include_top=False)
    assert small.output_shape == (None, 2, 2, 1024)  # CIFAR stem (stride 1), 4 stride-2 blocks


def test_default_model_is_imagenet_sized():
    model = zoo.ABXnorNet18()
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert model.name == "ab_xnornet18"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"step": 3}, "step must be 1"),
        ({"stem": "mnist"}, "stem must be one of"),
        ({"padding": "reflect"}, "padding must be one of"),
        ({"input_shape": (32, 32)}, "input_shape must be"),
        ({"num_classes": 0}, "num_classes must be a positive int"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zoo.ABReActNet18(**kwargs)


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_model_functions_have_larq_zoos_keyword_only_signature(name):
    import inspect

    parameters = inspect.signature(zoo.MODELS[name]).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    for larq_zoo_argument in ("input_shape", "input_tensor", "weights", "include_top"):
        assert larq_zoo_argument in parameters
    assert parameters["num_classes"].default == 1000
    assert "input_tensor:" in zoo.MODELS[name].__doc__
    with pytest.raises(TypeError, match="positional"):
        zoo.MODELS[name]((32, 32, 3))


def test_input_tensor_builds_the_network_on_a_given_tensor(float64):
    """As in larq-zoo: the model's inputs are the ones the tensor comes from, so a zoo
    network can sit behind a preprocessing layer (or another model) in one graph. In
    float64: `x * (1 / 127.5) - 1` and `x / 127.5 - 1` differ by a rounding, which in float32
    flipped a sign of a fresh binary network (measured: 10 of 20 logits off, 1 run in 2)."""
    tf.keras.utils.set_random_seed(0)
    images = tf.keras.Input((32, 32, 3), name="images")
    scaled = tf.keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")(images)
    model = zoo.ABXnorNet18(input_tensor=scaled, num_classes=10)
    assert model.inputs[0] is images and model.get_layer("scale") is not None
    assert model.get_layer("conv1").kernel_size == (3, 3)  # stem from the tensor's size
    plain = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    # Rescaling keeps its scale in float32 (relative 1e-7 off 1/127.5: measured 3e-9 here)
    np.testing.assert_allclose(model(x), plain(x / 127.5 - 1), rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match=r"input_shape \(64, 64, 3\) does not match"):
        zoo.ABXnorNet18(input_tensor=scaled, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="input_tensor must be a batch of images"):
        zoo.ABXnorNet18(input_tensor=tf.keras.Input((32, 32)))


@pytest.mark.parametrize(
    "weights,error,message",
    [
        ("imagenet", ValueError, "'imagenet' is not a file. larq-abbnn downloads no weights"),
        ("missing/ab.h5", FileNotFoundError, "weights file not found: missing/ab.h5"),
        (3, TypeError, "weights=3"),
    ],
)
def test_weights_argument_says_what_it_accepts(weights, error, message):
    with pytest.raises(error, match=message) as raised:
        zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, weights=weights)
    assert "a Keras weights file (.h5 or .keras)" in str(raised.value)
    assert "PyTorch checkpoints" in str(raised.value)


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown zoo model 'resnet50'.*ab_reactneta"):
        zoo.get("resnet50")


def test_step1_to_step2_keeps_every_variable():
    step1 = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, step=1)
    rng = np.random.default_rng(0)
    for w in step1.weights:
        w.assign(rng.normal(0, 0.1, w.shape))
    step2 = zoo.to_step(step1, 2)
    assert [w.name for w in step2.weights] == [w.name for w in step1.weights]
    for a, b in zip(step2.weights, step1.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    binary = [l for l in step2.layers if isinstance(l, layers.BinaryScaledStdConv2D)]
    assert binary and all(l.binary_weights and l.kernel_quantizer.precision == 1 for l in binary)
    real = [l for l in step1.layers if isinstance(l, layers.BinaryScaledStdConv2D)]
    assert all(not l.binary_weights and l.kernel_quantizer.precision == 32 for l in real)
    x = rng.normal(size=(2, 32, 32, 3)).astype(np.float32)
    # same variables, different function: the weights are binarized in step 2 only
    assert not np.allclose(step1(x).numpy(), step2(x).numpy())
    back = zoo.to_step(step2, 1)
    np.testing.assert_allclose(back(x).numpy(), step1(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["ab_reactnet18", "ab_reactneta", "bnfree_reactnet18"])
def test_a_training_step_changes_every_variable(name):
    """Every variable gets a gradient that is not zero, so that a training step (Adam's
    first moves each parameter by lr * g / (|g| + eps)) changes every one. Computed in
    eager mode: a fit's tracing costs ~15 s a network and adds nothing to the claim."""
    # a quarter width: the same layers and variables, a quarter of the channels
    model = zoo.get(name)(
        input_shape=(32, 32, 3), num_classes=10, stem="cifar", width_multiplier=0.25
    )
    assert len(model.trainable_weights) == len(model.weights)  # nothing else to change
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(np.arange(4), model(x, training=True))
    assert np.isfinite(loss.numpy())
    gradients = tape.gradient(loss, model.trainable_weights)
    still = [
        w.name for w, g in zip(model.trainable_weights, gradients) if g is None or not np.any(g)
    ]
    assert not still


def test_models_build_and_run_in_float64(float64):
    model = zoo.ABReActNetA(input_shape=(32, 32, 3), num_classes=10)
    assert all(w.dtype == tf.float64 for w in model.weights)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 32, 32, 3)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
    assert y.dtype == tf.float64
    assert tape.gradient(y, x).dtype == tf.float64


def test_weights_argument_loads_a_keras_weights_file(tmp_path):
    source = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10)
    rng = np.random.default_rng(1)
    for w in source.weights:
        w.assign(rng.normal(0, 0.1, w.shape))
    path = tmp_path / "xnor.weights.h5"
    source.save_weights(str(path))
    loaded = zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, weights=str(path))
    for a, b in zip(loaded.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        zoo.ABXnorNet18(
            input_shape=(32, 32, 3), num_classes=10, weights=str(tmp_path / "missing.h5")
        )
    not_hdf5 = tmp_path / "torch_checkpoint.h5"
    not_hdf5.write_bytes(b"PK\x03\x04 not hdf5")
    with pytest.raises(ValueError, match="torch_checkpoint.h5 is neither a Keras weights file"):
        zoo.ABXnorNet18(input_shape=(32, 32, 3), num_classes=10, weights=str(not_hdf5))


def test_larq_summary_reports_binary_convs_as_binary():
    model = zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10)
    out = io.StringIO()
    with redirect_stdout(out):
        lq.models.summary(model)
    rows = {
        line.split()[1]: line.split()
        for line in out.getvalue().splitlines()
        if line.startswith("| ")
    }
    assert rows["layer1.0.conv1"][2] == "1"  # input precision: binary activations
    assert rows["layer2.0.downsample.1"][2] == "-"  # binary weights on a real input
    # 64*64*9 binary weights, 64 gains
    assert rows["layer1.0.conv1"][-6:-4] == ["36864", "64"]
    profile = lq.models.ModelProfile(model)
    binary_layers = [l.name for l in profile.layer_profiles if l.input_precision == 1]
    assert len(binary_layers) == zoo.binary_conv_count(model) == 16
