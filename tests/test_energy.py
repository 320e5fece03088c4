"""`abbnn audit --energy`: the audit's counts priced with published per-operation figures
(Horowitz, ISSCC 2014, 45 nm), checked on graphs counted by hand."""

import json

import pytest
import tensorflow as tf
from conftest import run_abbnn

from larq_abbnn import layers, zoo
from larq_abbnn.analysis import count_multiplications
from larq_abbnn.analysis.energy import HOROWITZ_45NM, OperationCosts, estimate


def _tiny(scale: float) -> tf.keras.Model:
    """First conv (excluded), a scale on 4x4x2 = 32 outputs, a 2x2 pool to 2x2x2 = 8."""
    x = inputs = tf.keras.Input((4, 4, 3))
    x = layers.ScaledStdConv2D(2, 3, padding="same", name="conv1")(x)
    x = layers.Scale(scale, name="layer1.0.alpha")(x)
    x = tf.keras.layers.AveragePooling2D(2, name="layer1.0.pool")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="avgpool")(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(3, name="fc")(x))


def test_energy_of_a_hand_counted_graph():
    bnfree = estimate(count_multiplications(_tiny(0.2), family="bnfree"))
    assert bnfree.counts == {"full_precision": 32 + 8, "binary_conv_scaling": 0, "shift": 0}
    assert bnfree.total_uj == pytest.approx(40 * 3.7e-6)  # 40 float multiplies of 3.7 pJ
    assert bnfree.area_cycles_mm2 == pytest.approx(40 * 7700e-6)
    ab = estimate(count_multiplications(_tiny(0.25), family="ab"))
    assert ab.counts == {"full_precision": 0, "binary_conv_scaling": 0, "shift": 40}
    assert ab.total_uj == pytest.approx(40 * 0.03e-6)  # exponent adds of 0.03 pJ


def test_bn_free_reactnet_a_at_224_costs_the_papers_mo_in_float_multiplies():
    """14,651,392 multiplications (the paper's MO) at 3.7 pJ, plus one float multiply per
    binary-conv output (4,641,280: the A&B network's too)."""
    bnfree = estimate(count_multiplications(zoo.BNFreeReActNetA()))
    ab = estimate(count_multiplications(zoo.ABReActNetA()))
    assert bnfree.energy_uj["full_precision"] == pytest.approx(14_651_392 * 3.7e-6)
    assert bnfree.counts["binary_conv_scaling"] == ab.counts["binary_conv_scaling"] == 4_641_280
    assert ab.energy_uj["full_precision"] == 0 and ab.counts["shift"] > 0
    assert bnfree.binary_macs == ab.binary_macs  # listed, not priced
    assert ab.total_uj < bnfree.total_uj


def test_a_cost_table_of_your_own(tmp_path):
    path = tmp_path / "costs.json"
    path.write_text(
        json.dumps({"source": "my 7 nm", "energy_pj": {"fp32_mul": 1.0, "int8_add": 0.5}})
    )
    costs = OperationCosts.from_json(path)
    assert estimate(count_multiplications(_tiny(0.25), family="ab"), costs).total_uj == (
        pytest.approx(40 * 0.5e-6)
    )
    path.write_text(json.dumps({"source": "incomplete", "energy_pj": {"fp32_mul": 1.0}}))
    with pytest.raises(ValueError, match="energy_pj has no figure for int8_add"):
        OperationCosts.from_json(path)
    assert HOROWITZ_45NM.energy_pj["fp32_mul"] == 3.7 and "ISSCC 2014" in HOROWITZ_45NM.source


def test_audit_energy_command_prices_the_trio_side_by_side():
    result = run_abbnn(
        "audit", "zoo:ab_reactnet18", "zoo:bnfree_reactnet18", "zoo:bn_reactnet18",
        "--energy", "--format", "markdown",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| zoo:")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| zoo:ab_reactnet18", "| zoo:bnfree_reactnet18", "| zoo:bn_reactnet18",
    ]  # fmt: skip
    assert "| 0 = 0.00 uJ |" in rows[0]  # no full-precision multiplication in A&B
    assert "4,779,264 = 17.68 uJ" in rows[1]  # BN-Free's full count (the spec's section 3)
    assert "1,593,088 = 5.89 uJ" in rows[2]  # BN: PReLUs and pools, BatchNorm fused
    assert "Horowitz" in result.stdout and "ISSCC 2014" in result.stdout
