"""The network families: what the zoo builds from each, and the detectors reading it back."""

import numpy as np
import pytest

from larq_abbnn import families, layers, zoo
from larq_abbnn.analysis import count_multiplications
from larq_abbnn.analysis.synthetic import trained_looking
from larq_abbnn.converters import convert


def _small(name):
    return zoo.get(name)(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_the_zoo_builds_each_model_from_its_family_and_the_keras_detector_reads_it_back(name):
    family = zoo.get(name).family
    assert name.startswith(family.name + "_")
    model = _small(name)
    assert families.of_keras(model) is family
    binary_convs = [layer for layer in model.layers if layers.is_binary_conv(layer)]
    assert binary_convs and all(type(layer) is family.conv for layer in binary_convs)
    signs = {type(layer.input_quantizer).__name__ for layer in binary_convs}
    assert signs == {"SigmoidSign" if family.sign == "sigmoid_sign" else "ApproxSign"}
    alphas = {layer.scale for layer in model.layers if layer.name.split(".")[-1][:5] == "alpha"}
    assert alphas == (set() if family.alpha is None else {family.alpha})


@pytest.mark.parametrize(
    "name",
    [  # A&B and BN-Free ReActNet-18 files: test_audit's TFLite audit; BN: its BN baselines'
        pytest.param("ab_reactnet18", marks=pytest.mark.slow),
        "bnfree_reactneta",
        pytest.param("bn_reactnet18", marks=pytest.mark.slow),
    ],
)
def test_the_tflite_detector_reads_the_family_of_the_converted_file(name):
    model = _small(name)
    trained_looking(model)
    assert count_multiplications(convert(model)).family == zoo.get(name).family.name


def test_the_counting_rule_is_the_familys():
    assert families.AB.product(True) == "shift" and families.AB.product(False) == "full_precision"
    for baseline in (families.BN_FREE, families.BN):
        assert baseline.product(True) == baseline.product(False) == "full_precision"
    # the same Keras model counted by each rule: A&B's shifts are the baselines' products
    model = _small("ab_reactnet18")
    ab = count_multiplications(model)
    as_baseline = count_multiplications(model, family="bnfree")
    assert ab.full_precision == 0 and ab.shifts > 0
    assert (as_baseline.full_precision, as_baseline.shifts) == (ab.shifts, 0)
    assert count_multiplications(model, family=families.BN).full_precision == ab.shifts


def test_an_unknown_family_is_named():
    with pytest.raises(ValueError, match="family must be one of 'ab', 'bnfree', 'bn', got 'xnor'"):
        count_multiplications(_small("ab_xnornet18"), family="xnor")


def test_is_power_of_two():
    assert families.is_power_of_two([0.25, -2.0, 1.0])
    assert not families.is_power_of_two([0.25, 0.2])
    assert not families.is_power_of_two([0.0]) and not families.is_power_of_two([])
    assert families.is_power_of_two(np.float32(2.0**-3))


def test_a_stray_real_prelu_keeps_an_a_and_b_file_a_and_b():
    """One real slope among Q-PReLU shifts: the file is still A&B, the slope counted."""
    products, slopes = [], [np.full(4, 0.125), np.full(4, 0.25), np.full(4, 0.3)]
    assert families.of_tflite(products, slopes) is families.AB
    assert families.of_tflite(products, slopes[2:] * 2) is families.BN
    assert families.of_tflite([np.full(4, 0.7)], slopes) is families.BN_FREE
