"""Folded models into hls4ml, for FPGAs: its ONNX front end reads the QONNX export in the
form `hls4ml_form` writes, and `compile()` / `predict()` build and run its bit-accurate
C++ emulation with g++ alone (no Vivado or Vitis). `convert(model, format="hls4ml")`
(`to_hls4ml`, `formats.HLS4ML`, `abbnn convert --format hls4ml`) comes through here.

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

hls4ml writes every per-channel constant it multiplies by (the binary convs' scales, the
Q-PReLU slopes, the PReLU's -1) as a `fixed<>` product (`nnet::product::mult`). Its
power-of-two product (`weight_exponential`: a shift and a sign) is reached only through
QKeras's po2 quantizers. `ScalesAsShifts`, an hls4ml optimizer pass run before its
backend's types are fixed, gives hls4ml's exponent type to each such constant whose
values are all signed powers of two: the Q-PReLU slopes always, the binary convs' scales
with `power_of_two_scales` (issue 33). The product is exact, as the multiplication was.

hls4ml is not part of the base install: `pip install "larq-abbnn[fpga]"` (README, FPGA
flows).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings

import numpy as np
import tensorflow as tf

#: bits of the signed exponent of a power-of-two constant (2**-128 .. 2**127)
EXPONENT_BITS = 8
#: the registered names of the pass and of the flow that runs it (hls4ml's registries)
SHIFTS_PASS = "abbnn_scales_as_shifts"
SHIFTS_FLOW = "abbnn_shifts"
#: the file of a project hls4ml writes its layers' configurations into
PARAMETERS = os.path.join("firmware", "parameters.h")


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


def from_folded(
    folded: tf.keras.Model,
    *,
    output_dir: str | os.PathLike | None = None,
    precision: str = "fixed<48,24>",
    io_type: str = "io_stream",
    backend: str = "Vitis",
    quiet: bool = True,
):
    """A model `fold` returned, read by hls4ml: an `hls4ml.model.ModelGraph` whose project
    goes to `output_dir` (its `write()` and `compile()`; by default a new temporary
    folder, not hls4ml's `my-hls-test` in the working directory).

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
    the Keras model takes them (`run`). `quiet` keeps hls4ml's per-layer printout off
    stdout.
    """
    from larq_abbnn.converters import contract
    from larq_abbnn.converters.extras import FPGA

    FPGA.check_installed()
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper

    from larq_abbnn.converters.qonnx import export_folded

    if contract.input_pixels(folded) != "normalized":
        raise ValueError(
            "hls4ml takes normalized float images: convert with input_pixels='normalized' "
            "(hls4ml's ONNX front end has no Cast for a uint8 input)"
        )
    proto = ModelWrapper(export_folded(folded, forms=hls4ml_form()))
    placeholder = output_dir is None
    if placeholder:
        output_dir = tempfile.mkdtemp(prefix="abbnn-hls4ml-")
    printout = contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext()
    with printout, warnings.catch_warnings():
        # hls4ml 1.3 warns that it cannot move the binary convs' output scales past the
        # residual adds ("model probably not supported"); it keeps them where they are,
        # and the emulation agrees with Keras (tests/test_hls4ml.py)
        warnings.filterwarnings("ignore", message="Failed to propagate quantization bias")
        config = hls4ml.utils.config_from_onnx_model(
            proto, granularity="name", backend=backend, default_precision=precision
        )
        config["Flows"] = [_shifts_flow(backend), _default_flow(backend)]
        hls_model = hls4ml.converters.convert_from_onnx_model(
            proto,
            output_dir=os.fspath(output_dir),
            io_type=io_type,
            backend=backend,
            hls_config=config,
        )
    if placeholder:
        # hls4ml needs a folder name but writes nothing there until `write()` (which
        # makes it again); `run` and `write` use folders of their own. Left, it was one
        # empty folder in /tmp per conversion.
        os.rmdir(output_dir)
    return hls_model


def run(hls_model, images: np.ndarray) -> np.ndarray:
    """Logits of `hls_model`'s C++ emulation for NHWC float32 `images`, compiled (g++) on
    first use in a build folder of its own, so that a written project stays as `convert`
    wrote it. The folder lives as long as `hls_model`: the compiled emulation reads its
    weights from the folder's text files when it first runs."""
    if hls_model._top_function_lib is None:  # hls4ml's own test for a compiled model
        build = tempfile.TemporaryDirectory(prefix="abbnn-hls4ml-build-")
        with _writing_into(hls_model, build.name):
            hls_model.compile()
        hls_model._abbnn_build = build  # removed with the model
    images = np.ascontiguousarray(images, np.float32)
    with contextlib.redirect_stdout(io.StringIO()):
        outputs = hls_model.predict(images)
    return np.asarray(outputs, np.float32).reshape(len(images), -1)


def write(hls_model, folder: str | os.PathLike) -> int:
    """Write `hls_model`'s project into `folder` (`files.atomic_folder`: complete or not
    at all; an earlier hls4ml project there is replaced) and return its size in bytes."""
    from larq_abbnn.files import atomic_folder

    folder = os.path.abspath(os.fspath(folder))
    with atomic_folder(folder, replaces=is_project) as temporary:
        with _writing_into(hls_model, temporary):
            hls_model.write()
        _name_folder(temporary, folder)
    hls_model.config.config["OutputDir"] = folder
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(folder)
        for name in names
    )


@contextlib.contextmanager
def _writing_into(hls_model, folder: str):
    """hls4ml writes (and compiles) into its config's `OutputDir`: `folder` for the
    duration, the earlier one after, hls4ml's printout kept off stdout."""
    earlier = hls_model.config.get_output_dir()
    hls_model.config.config["OutputDir"] = folder
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        hls_model.config.config["OutputDir"] = earlier


def is_project(folder: str | os.PathLike) -> bool:
    """Whether `folder` holds a project hls4ml wrote (its layer configurations, `PARAMETERS`)."""
    return os.path.isfile(os.path.join(os.fspath(folder), PARAMETERS))


def _name_folder(temporary: str, folder: str) -> None:
    """hls4ml records its output folder once, in `hls4ml_config.yml` (`OutputDir`): the
    final name, not the temporary one it was written under."""
    config = os.path.join(temporary, "hls4ml_config.yml")
    with open(config) as f:
        lines = f.read().splitlines(keepends=True)
    with open(config, "w") as f:
        f.writelines(
            f"OutputDir: {folder}\n" if line.startswith("OutputDir:") else line for line in lines
        )


def _default_flow(backend: str) -> str:
    from hls4ml.backends import get_backend

    return get_backend(backend).get_default_flow()


def _shifts_flow(backend: str) -> str:
    """The flow that runs `ScalesAsShifts`: after every flow of `backend`'s default that
    comes before its types are fixed (`specific_types`), registered once per backend."""
    from hls4ml.model.flow import get_available_flows, get_flow, register_flow
    from hls4ml.model.optimizer import get_available_passes, register_pass

    if SHIFTS_PASS not in get_available_passes():
        register_pass(SHIFTS_PASS, _scales_as_shifts_pass())
    name = f"{SHIFTS_FLOW}_{backend.lower()}"
    if name not in get_available_flows():
        requires = list(get_flow(_default_flow(backend)).requires)
        before = next(i for i, flow in enumerate(requires) if flow.endswith(":specific_types"))
        register_flow(name, [SHIFTS_PASS], requires=requires[:before])
    return name


def is_power_of_two(values) -> bool:
    """Whether every value is a signed power of two within `EXPONENT_BITS`' exponents."""
    values = np.asarray(values, np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values == 0):
        return False
    mantissa, exponent = np.frexp(np.abs(values))  # |v| = mantissa * 2**exponent
    limit = 2 ** (EXPONENT_BITS - 1)
    return bool(
        np.all(mantissa == 0.5) and np.all((exponent - 1 >= -limit) & (exponent - 1 < limit))
    )


def _scales_as_shifts_pass():
    """`ScalesAsShifts`, defined on first use (hls4ml is the [fpga] extra's)."""
    from hls4ml.model.layers import BatchNormalization
    from hls4ml.model.optimizer import OptimizerPass
    from hls4ml.model.quantizers import Quantizer
    from hls4ml.model.types import ExponentPrecisionType

    class PowerOfTwo(Quantizer):
        """Marks constants as hls4ml's power-of-two type (their values are already
        powers of two: the identity)."""

        def __init__(self):
            super().__init__(EXPONENT_BITS, ExponentPrecisionType(width=EXPONENT_BITS))

        def __call__(self, data):
            return data

    class ScalesAsShifts(OptimizerPass):
        """A scale layer (hls4ml's `BatchNormalization` / `ApplyAlpha`) whose scales are
        all signed powers of two: its scales as hls4ml's exponent type, so that its
        product is `weight_exponential` (a shift and a sign), not `mult`."""

        def match(self, node):
            scale = node.weights.get("scale") if isinstance(node, BatchNormalization) else None
            return (
                scale is not None
                and not isinstance(scale.type.precision, ExponentPrecisionType)
                and is_power_of_two(scale.data)
            )

        def transform(self, model, node):
            data = node.weights["scale"].data
            node.add_weights_variable(
                name="scale", var_name="s{index}", data=data, quantizer=PowerOfTwo()
            )
            return False

    return ScalesAsShifts
