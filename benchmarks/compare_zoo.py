"""A&B models against what users would pick instead, measured in one run.

    pip install -e ".[bench]" && python benchmarks/compare_zoo.py [--runs 10] [--format markdown]

Converts at 224x224: ABReActNetA and ABReActNet18 through `larq_abbnn.converters.convert`,
their BN-Free counterparts the same way, and larq-zoo's QuickNetSmall, QuickNet,
QuickNetLarge and BiRealNet (weights=None: timing only) with LCE's converter. Then it times
every file at 1 thread in LCE's interpreter, interleaving the models over several rounds so
machine noise hits all alike, and prints latency, ratio to ABReActNetA, size, LceBconv2d
count and the audited full-precision multiplications (the paper's MO).
Targets (issue 7): ABReActNetA / QuickNetLarge <= 1.0; ABReActNet18 / BiRealNet <= 1.0.
"""

import argparse
import statistics

import larq_zoo as lqz
from larq_compute_engine import convert_keras_model

from larq_abbnn import zoo
from larq_abbnn.benchmark import Measurement, measure, table
from larq_abbnn.converters import convert, count_multiplications


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=["text", "markdown", "csv"], default="text")
    args = parser.parse_args()

    files = {
        "ABReActNetA": convert(zoo.ABReActNetA()),
        "BNFreeReActNetA": convert(zoo.BNFreeReActNetA()),
        "QuickNetLarge (larq-zoo)": convert_keras_model(lqz.sota.QuickNetLarge(weights=None)),
        "QuickNet (larq-zoo)": convert_keras_model(lqz.sota.QuickNet(weights=None)),
        "QuickNetSmall (larq-zoo)": convert_keras_model(lqz.sota.QuickNetSmall(weights=None)),
        "ABReActNet18": convert(zoo.ABReActNet18()),
        "BNFreeReActNet18": convert(zoo.BNFreeReActNet18()),
        "BiRealNet (larq-zoo)": convert_keras_model(lqz.literature.BiRealNet(weights=None)),
    }
    rounds: dict[str, list[Measurement]] = {name: [] for name in files}
    for _ in range(args.rounds):
        for name, flatbuffer in files.items():
            rounds[name].append(measure(flatbuffer, name=name, runs=args.runs))
    rows = []
    for name, measurements in rounds.items():
        row = measurements[0]
        row.median_ms = statistics.median(m.median_ms for m in measurements)
        row.min_ms = min(m.min_ms for m in measurements)
        mo = count_multiplications(files[name]).full_precision
        row.source = f"MO {mo:,}"
        rows.append(row)
    print(table(rows, args.format))
    by_name = {r.name: r.median_ms for r in rows}
    print(
        f"\nABReActNetA / QuickNetLarge = "
        f"{by_name['ABReActNetA'] / by_name['QuickNetLarge (larq-zoo)']:.2f} (target <= 1.0); "
        f"ABReActNet18 / BiRealNet = "
        f"{by_name['ABReActNet18'] / by_name['BiRealNet (larq-zoo)']:.2f} (target <= 1.0)"
    )


if __name__ == "__main__":
    main()
