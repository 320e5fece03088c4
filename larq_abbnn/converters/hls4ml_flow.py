"""Folded models into hls4ml, for FPGAs: its ONNX front end reads the QONNX export in the
form `HLS4ML_FORM` writes, and `compile()` / `predict()` build and run its bit-accurate
C++ emulation with g++ alone (no Vivado or Vitis).

The form is the export rewritten by qonnx passes (`converters.qonnx.passes`), for what
hls4ml 1.3 reads (measured against Keras, layer by layer with hls4ml's trace):

- a binary conv pads its +-1 input with -1 (its 1-bit code 0), not 0, and hls4ml's `Pad`
  pads zeros only: each padded binary conv pads its real input with 0 before the sign
  (+1 after it) and takes what the +1s add away in an `Add` after the conv, so the
  reference's zero padding holds (`PadBinaryWithOnes`, `PadBeforeSign`);
- its `PRelu` reader drops the slope: PReLUs are written as relu(x) - a * relu(-x)
  (`PReLUAsRelus`);
- it reads a 4-D `GlobalAveragePool` as NCHW, a Dense as `MatMul` + `Add`, and only the
  channels-last layout, with names it can write into C++ (`HeadPoolAsAveragePool`,
  `GemmAsMatMul`, `ToChannelsLast`).

hls4ml is not part of the base install: `pip install "larq-abbnn[fpga]"` (README, FPGA
flows).
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import tensorflow as tf

from larq_abbnn.converters.pipeline import convert


def hls4ml_form() -> tuple:
    """The qonnx passes, in order, that write the export as hls4ml 1.3's front end reads it."""
    from larq_abbnn.converters.qonnx import passes

    return (
        passes.PadBinaryWithOnes(),
        passes.PadBeforeSign(),
        passes.PReLUAsRelus(),
        passes.HeadPoolAsAveragePool(),
        passes.GemmAsMatMul(),
        passes.ToChannelsLast(),
    )


def to_hls4ml(
    model: tf.keras.Model,
    output_dir: str | os.PathLike,
    *,
    precision: str = "fixed<48,24>",
    io_type: str = "io_stream",
    backend: str = "Vitis",
    quiet: bool = True,
):
    """`model` folded, exported and read by hls4ml: an `hls4ml.model.ModelGraph` whose
    project is written to `output_dir`.

    `precision` is every layer's default fixed-point type (hls4ml's `default_precision`).
    The default keeps the emulation within rounding of Keras: a sign whose input lies in the
    rounding of zero flips, and flips cascade through the blocks (measured on a whole A&B
    ReActNet-18 at width 0.25, 32 random inputs: at fixed<48,24> the median input's
    logits are within 3.9e-6 of the logit scale, the worst 3.7e-2; at fixed<32,16> every
    argmax still agrees, but the median input's logits are 7.4e-2 off). A design for a
    device sets its own precisions.

    `io_type` and `backend` pass to hls4ml. `io_stream` is hls4ml's choice for CNNs and
    compiles far faster (measured: a whole A&B ReActNet-18 at 32 px, width 0.25, in
    63-106 s and 1.0 GB; with `io_parallel`, two of its blocks took 394 s and 3.5 GB, the
    whole network had not finished after 15 minutes). Call `.compile()` to build the C++
    emulation (g++) and `.predict(images)` with NHWC float32 images (C-contiguous), as
    the Keras model takes them. `quiet` keeps hls4ml's per-layer printout off stdout.
    """
    try:
        import hls4ml
        from qonnx.core.modelwrapper import ModelWrapper
    except ImportError as error:
        raise ImportError(
            f"the hls4ml flow needs hls4ml and qonnx ({error}): pip install "
            '"larq-abbnn[fpga]" (README, FPGA flows)'
        ) from None
    proto = ModelWrapper(convert(model, format="qonnx", forms=hls4ml_form()))
    printout = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with printout, warnings.catch_warnings():
        # hls4ml 1.3 warns that it cannot move the binary convs' output scales past the
        # residual adds ("model probably not supported"); it keeps them where they are,
        # and the emulation agrees with Keras (tests/test_hls4ml.py)
        warnings.filterwarnings("ignore", message="Failed to propagate quantization bias")
        config = hls4ml.utils.config_from_onnx_model(
            proto, granularity="name", backend=backend, default_precision=precision
        )
        return hls4ml.converters.convert_from_onnx_model(
            proto,
            output_dir=os.fspath(output_dir),
            io_type=io_type,
            backend=backend,
            hls_config=config,
        )
