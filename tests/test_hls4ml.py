"""hls4ml reads the channels-last QONNX form, and its C++ emulation (g++ only) computes
what Keras computes. Skipped without the [fpga] extra."""

import numpy as np
import pytest

pytest.importorskip("hls4ml", reason='the [fpga] extra: pip install -e ".[fpga]"')

from larq_abbnn import zoo  # noqa: E402
from larq_abbnn.analysis.synthetic import trained_looking  # noqa: E402
from larq_abbnn.converters.hls4ml_flow import to_hls4ml  # noqa: E402


def test_hls4ml_emulation_of_ab_reactnet18_agrees_with_keras(tmp_path):
    """The whole A&B ReActNet-18 at the CIFAR stem, width 0.25 (compiled in 60-100 s and
    1 GB with io_stream), in to_hls4ml's default fixed<48,24>. Measured on 32 inputs:
    every argmax equal, the median input's logits within 3.9e-6 of the logit scale; one
    input's 3.7e-2, a sign flipped by the rounding (the first 16: all within 4.3e-6)."""
    model = trained_looking(
        zoo.ABReActNet18(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    )
    hls_model = to_hls4ml(model, tmp_path / "hls")
    kinds = [layer.class_name for layer in hls_model.get_layers()]
    assert kinds.count("Conv2D") == 17 and kinds.count("PointwiseConv2D") == 3
    hls_model.compile()
    x = np.random.default_rng(0).normal(size=(16, 32, 32, 3)).astype(np.float32)
    ours = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
    keras = model.predict(x, verbose=0)
    relative = np.abs(ours - keras).max(axis=-1) / np.abs(keras).max()
    assert np.mean(ours.argmax(-1) == keras.argmax(-1)) >= 15 / 16
    assert np.median(relative) < 1e-4
