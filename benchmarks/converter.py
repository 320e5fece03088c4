"""Converter performance: conversion time and memory, and folded-vs-unfolded latency.

    python benchmarks/converter.py [--size 224] [--runs 20]

Prints (1) the time and peak memory of folding and converting ABReActNetA, each in a
fresh process, and (2) single-thread latency in LCE's interpreter of, in one process:
ABReActNetA folded (our `convert`), ABReActNetA converted without folding, and
BNFreeReActNetA folded and unfolded, with ratios to the folded A&B model (target: <= 0.9
against the unfolded A&B model and against BN-Free), on each of LCE's two fast binary
conv kernels. The models have trained-looking weights: a fresh model's zero biases
vanish in conversion and would hide the ops a trained model has.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


def _convert_in_fresh_process(size: int) -> dict:
    code = f"""
import json, resource, time
from larq_abbnn import zoo
from larq_abbnn.converters import convert
model = zoo.ABReActNetA(input_shape=({size}, {size}, 3))
start = time.perf_counter()
flatbuffer = convert(model)
seconds = time.perf_counter() - start
peak_rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({{"seconds": seconds, "peak_rss_gb": peak_rss_gb, "mb": len(flatbuffer) / 1e6}}))
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    stats = _convert_in_fresh_process(args.size)
    print(
        f"convert ABReActNetA {args.size}x{args.size}: {stats['seconds']:.1f} s, peak memory "
        f"{stats['peak_rss_gb']:.2f} GB (targets: < 60 s, < 4 GB), {stats['mb']:.2f} MB file"
    )

    from larq_compute_engine import convert_keras_model

    from larq_abbnn import zoo
    from larq_abbnn.analysis.benchmark import measure
    from larq_abbnn.analysis.synthetic import trained_looking
    from larq_abbnn.converters import convert

    shape = (args.size, args.size, 3)
    ab = trained_looking(zoo.ABReActNetA(input_shape=shape))
    bnfree = trained_looking(zoo.BNFreeReActNetA(input_shape=shape))
    models = {
        "ABReActNetA folded": convert(ab),
        "ABReActNetA unfolded": convert_keras_model(ab),
        "BNFreeReActNetA folded": convert(bnfree),
        "BNFreeReActNetA unfolded": convert_keras_model(bnfree),
    }
    for kernel in ("bgemm", "indirect_bgemm"):
        # interleave the runs so that machine noise hits every model alike
        latencies = {name: [] for name in models}
        for _ in range(3):
            for name, flatbuffer in models.items():
                row = measure(flatbuffer, name=name, runs=args.runs, kernel=kernel)
                latencies[name].append(row.median_ms)
        reference = statistics.median(latencies["ABReActNetA folded"])
        print(f"\nLCE kernel {kernel}, 1 thread")
        print(f"{'model':<24} {'median ms':>10} {'A&B folded / this':>18}")
        for name, values in latencies.items():
            ms = statistics.median(values)
            print(f"{name:<24} {ms:>10.1f} {reference / ms:>18.2f}")


if __name__ == "__main__":
    main()
