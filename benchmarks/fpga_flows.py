"""The FPGA step measured: qonnx's XNOR-popcount transform and hls4ml's C++ emulation.

    python benchmarks/fpga_flows.py [--model ab_reactnet18] [--inputs 32] [--precision P]

Needs the [fpga] extra and g++. For an A&B zoo model at the CIFAR stem (32 px, width
0.25, trained-looking weights), prints: the XNOR-popcount graph's op mix and its
agreement with Keras (qonnx's executor); hls4ml's conversion, compile and predict times,
the compiler's peak memory, its argmax agreement with Keras on `--inputs` random images
and the median and largest logit difference (`--precision`, io_stream).
"""

import argparse
import os
import resource
import tempfile
import time
from collections import Counter

import numpy as np


def _relative(outputs, keras) -> float:
    return float(np.abs(outputs - keras).max() / np.abs(keras).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ab_reactnet18", help="an A&B zoo model")
    parser.add_argument("--inputs", type=int, default=32)
    parser.add_argument("--precision", default="fixed<48,24>", help="hls4ml's default_precision")
    args = parser.parse_args()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from larq_abbnn import zoo
    from larq_abbnn.analysis.synthetic import trained_looking
    from larq_abbnn.converters import to_hls4ml, to_qonnx
    from larq_abbnn.converters.qonnx_xnor import to_xnor_popcount

    model = trained_looking(
        zoo.get(args.model)(input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)
    )
    x = np.random.default_rng(0).normal(size=(args.inputs, 32, 32, 3)).astype(np.float32)
    keras = model.predict(x, verbose=0)

    start = time.perf_counter()
    xnor = ModelWrapper(to_xnor_popcount(to_qonnx(model, pad_binary_with_ones=True)))
    ops = Counter(node.op_type for node in xnor.graph.node)
    few = x[: min(4, len(x))]  # the lowered graph runs one image at a time, slowly
    name_in, name_out = xnor.graph.input[0].name, xnor.graph.output[0].name
    outputs = np.concatenate(
        [execute_onnx(xnor, {name_in: np.transpose(i[None], (0, 3, 1, 2))})[name_out] for i in few]
    )
    print(f"XNOR-popcount graph ({time.perf_counter() - start:.1f} s): "
          f"{ops['XnorPopcountMatMul']} XnorPopcountMatMul, {ops['MatMul']} MatMul left; "
          f"{len(few)} inputs within {_relative(outputs, keras[: len(few)]):.1e} of the "
          "logit scale")  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        hls_model = to_hls4ml(model, os.path.join(folder, "hls"), precision=args.precision)
        converted = time.perf_counter() - start
        start = time.perf_counter()
        hls_model.compile()
        compiled = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
        start = time.perf_counter()
        ours = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(len(x), -1)
        predicted = time.perf_counter() - start
    agree = int(np.sum(ours.argmax(-1) == keras.argmax(-1)))
    relative = np.abs(ours - keras).max(axis=-1) / np.abs(keras).max()
    print(f"hls4ml ({args.precision}): converted in {converted:.1f} s, compiled in "
          f"{compiled:.0f} s (g++ peak {peak:.1f} GB), {len(x)} inputs predicted in "
          f"{predicted:.1f} s; argmax "
          f"{agree}/{len(x)}; logits within {np.median(relative):.1e} (median input) and "
          f"{relative.max():.1e} (worst) of the logit scale")  # fmt: skip


if __name__ == "__main__":
    main()
