"""`python -m abbnn.finn MODEL.onnx`, in FINN's venv: the file through FINN's front end to
hardware layers, executed on images beside the file itself, and costed (`flow`).

    python -m abbnn.finn m.onnx [--images X.npy] [--reference LOGITS.npy] [-o DIR]

Images are NHWC float32, normalized as the Keras model takes them (an .npy file of shape
(N, H, W, C)); by default `--inputs` standard-normal images (seeded), as `abbnn convert
--verify` draws them. FINN's output is compared with the QONNX file's own, run by qonnx's
executor in the same venv (`abbnn convert --verify` checked that file against Keras), and
with `--reference` logits (Keras's, saved where Keras runs) when given. `-o DIR` keeps the
hardware-layer graph (`hw_layers.onnx`) and the report (`finn_report.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from abbnn.finn import flow


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m abbnn.finn",
        description="A QONNX file written by abbnn convert through FINN's front end to "
        "hardware layers (every binary conv an XNOR-popcount MVAU), executed in Python "
        "beside the file itself, and costed with FINN's resource estimates.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "model", help="a QONNX .onnx file (abbnn convert ... --pad-binary-with-ones)"
    )
    parser.add_argument("--images", default=None, help="NHWC float32 images, an .npy file")
    parser.add_argument("--inputs", type=int, default=16, help="random images, without --images")
    parser.add_argument("--seed", type=int, default=0, help="of the random images")
    parser.add_argument(
        "--reference", default=None, help="the Keras model's logits for the images, an .npy file"
    )
    parser.add_argument(
        "--fpga-part", default=flow.DEFAULT_FPGA_PART, help="the part FINN's estimates are for"
    )
    parser.add_argument("-o", "--output-dir", default=None, help="keep the graph and the report")
    return parser.parse_args(argv)


def _images(args, shape) -> np.ndarray:
    if args.images is None:
        rng = np.random.default_rng(args.seed)
        return rng.normal(size=(args.inputs, *shape)).astype(np.float32)
    images = np.load(args.images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise ValueError(
            f"{args.images}: images of shape {images.shape}; the model takes (N, "
            f"{', '.join(map(str, shape))}) NHWC"
        )
    return images.astype(np.float32)


def _agreement(outputs: np.ndarray, reference: np.ndarray) -> dict:
    scale = float(np.abs(reference).max()) or 1.0
    relative = np.abs(outputs - reference).max(axis=-1) / scale
    return {
        "argmax_agreement": int(np.sum(outputs.argmax(-1) == reference.argmax(-1))),
        "inputs": len(reference),
        "max_relative_difference": float(relative.max()),
        "median_relative_difference": float(np.median(relative)),
    }


def _say_agreement(what: str, agreement: dict) -> None:
    print(
        f"agreement with {what}: argmax {agreement['argmax_agreement']} of "
        f"{agreement['inputs']}, logits within {agreement['max_relative_difference']:.1e} of "
        f"the logit scale (median {agreement['median_relative_difference']:.1e})"
    )


def _table(estimates: dict, totals: dict) -> str:
    header = f"{'layer':<36}{'LUT':>9}{'BRAM_18K':>10}{'URAM':>6}{'DSP':>6}{'cycles':>11}"
    rows = [header]
    for name, layer in estimates.items():
        rows.append(
            f"{name:<36}{layer['LUT']:>9,}{layer['BRAM_18K']:>10,}{layer['URAM']:>6,}"
            f"{layer['DSP']:>6,}{layer['cycles']:>11,}"
        )
    rows.append(
        f"{'total (cycles: the slowest layer)':<36}{totals['LUT']:>9,}{totals['BRAM_18K']:>10,}"
        f"{totals['URAM']:>6,}{totals['DSP']:>6,}{totals['cycles']:>11,}"
    )
    return "\n".join(rows)


def _write(folder: str, result: flow.Result, report: dict) -> None:
    """The graph and the report, each written to a temporary beside it and renamed (the
    venv has no `larq_abbnn.files`: that package imports TensorFlow)."""
    os.makedirs(folder, exist_ok=True)
    for name, write in (
        ("hw_layers.onnx", lambda path: result.model.save(path)),
        ("finn_report.json", lambda path: open(path, "w").write(json.dumps(report, indent=2))),
    ):
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(temporary)
            os.replace(temporary, os.path.join(folder, name))
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"abbnn.finn: error: {error}", file=sys.stderr)
        return 1


def _run(args) -> int:
    import importlib.metadata

    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"model not found: {args.model}")
    versions = {p: importlib.metadata.version(p) for p in ("finn-plus", "qonnx")}
    print(f"FINN: finn-plus {versions['finn-plus']}, qonnx {versions['qonnx']}; {args.model}")
    original = flow.load(args.model)
    shape = [d.dim_value for d in original.graph.input[0].type.tensor_type.shape.dim][1:]
    images = _images(args, (shape[1], shape[2], shape[0]))  # the file takes NCHW
    reference = np.load(args.reference) if args.reference else None
    if reference is not None and reference.shape[0] != len(images):
        raise ValueError(f"{args.reference}: {reference.shape[0]} logits for {len(images)} images")
    result = flow.build(
        args.model, on_step=lambda name: print(f"finn       {name} ...", flush=True)
    )
    print(f"steps: {', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())}")
    hw, other = result.hw_layers(), result.other_nodes()
    print("hardware layers: " + ", ".join(f"{k} {v}" for k, v in sorted(hw.items())))
    print(f"binary convs as XNOR-popcount MVAUs: {result.xnor_mvaus()} of {result.binary_convs}")
    print("left as ONNX nodes: " + ", ".join(f"{k} {v}" for k, v in sorted(other.items())))
    multiplications = result.multiplications()
    print(
        "their Mul nodes, by constant (not costed by FINN): "
        + ", ".join(
            f"{kind} {m['nodes']} ({m['per_frame']:,} products a frame)"
            for kind, m in multiplications.items()
        )
    )
    print(f"executing {len(images)} images (FINN's executor; the file in qonnx's) ...", flush=True)
    outputs = flow.execute(result.model, images)
    file_outputs = flow.execute(original, images)
    report = {
        "model": args.model,
        "versions": versions,
        "fpga_part": args.fpga_part,
        "folding": "FINN's default: PE = SIMD = 1",
        "binary_convs": result.binary_convs,
        "xnor_mvaus": result.xnor_mvaus(),
        "hardware_layers": dict(hw),
        "other_nodes": dict(other),
        "multiplications_outside_finn": multiplications,
        "agreement_with_file": _agreement(outputs, file_outputs),
    }
    _say_agreement("the QONNX file", report["agreement_with_file"])
    if reference is not None:
        report["agreement_with_reference"] = _agreement(outputs, reference)
        _say_agreement(args.reference, report["agreement_with_reference"])
    estimates = flow.estimate(result.model, args.fpga_part)
    totals = flow.totals(estimates)
    report.update(estimates=estimates, totals=totals)
    print(f"FINN's estimates for {args.fpga_part} (folding PE = SIMD = 1):")
    print(_table(estimates, totals))
    if args.output_dir:
        _write(args.output_dir, result, report)
        print(f"wrote {os.path.join(args.output_dir, 'hw_layers.onnx')} and finn_report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
