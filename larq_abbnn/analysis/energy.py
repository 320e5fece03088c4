"""What the paper's claim is worth in hardware: the audit's operation counts turned into an
energy and silicon-area estimate per inference, from published per-operation figures.

On a CPU a shift costs what a multiplication costs, so latency cannot show the A&B saving;
a dedicated accelerator can. The default figures are Horowitz's (ISSCC 2014, 45 nm):

| operation | energy (pJ) | area (um^2) |
|---|---:|---:|
| 32-bit float multiply | 3.7 | 7,700 |
| 32-bit float add | 0.9 | 4,184 |
| 32-bit integer add | 0.1 | 137 |
| 8-bit integer add | 0.03 | 36 |

How the audit's kinds map onto them (`KIND_OPERATIONS`): a full-precision multiplication
and a binary conv's per-output scaling are float multiplies; a multiplication by a power
of two (the A&B shifts) adds to the 8-bit exponent of a float, an 8-bit integer add; a
BatchNorm the converter fuses into the conv before it costs nothing extra (its scale
joins that conv's output multiplier). Binary multiply-accumulates (XNOR-popcount) are
listed, not priced: Horowitz gives no figure for them, and the A&B, BN-Free and BN
versions of a network have the same ones. Additions are not counted by the audit.

Replace the table with your own (`OperationCosts`, or `abbnn audit --energy-table
FILE.json` with the same keys) for another process node.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from abbnn.inputs import require
from larq_abbnn.analysis.audit import MultiplicationReport


@dataclass(frozen=True)
class OperationCosts:
    """Energy (picojoules) and area (square micrometres) of one operation of each type."""

    source: str
    energy_pj: dict[str, float]
    area_um2: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> OperationCosts:
        """A table written as `{"source": ..., "energy_pj": {...}, "area_um2": {...}}`."""
        require(path, "energy table", ValueError)
        try:
            with open(path, encoding="utf-8") as f:
                table = json.load(f)
        except OSError as error:
            raise ValueError(f"cannot read the energy table {path}: {error.strerror}") from None
        except ValueError as error:
            raise ValueError(f"energy table {path} is not valid JSON: {error}") from None
        if not isinstance(table, dict):
            raise ValueError(
                f"energy table {path}: expected a JSON object, got {type(table).__name__}"
            )
        missing = [key for key in ("source", "energy_pj") if key not in table]
        if missing:
            raise ValueError(f"{path}: an operation cost table needs {', '.join(missing)}")
        unknown = set(KIND_OPERATIONS.values()) - set(table["energy_pj"])
        if unknown:
            raise ValueError(
                f"{path}: energy_pj has no figure for {', '.join(sorted(unknown))} (the "
                f"operations the audit's kinds map to: {dict(KIND_OPERATIONS)})"
            )
        return cls(table["source"], dict(table["energy_pj"]), dict(table.get("area_um2", {})))


HOROWITZ_45NM = OperationCosts(
    source=(
        'M. Horowitz, "Computing\'s energy problem (and what we can do about it)", '
        "ISSCC 2014, 45 nm"
    ),
    energy_pj={"fp32_mul": 3.7, "fp32_add": 0.9, "int32_add": 0.1, "int8_add": 0.03},
    area_um2={"fp32_mul": 7700.0, "fp32_add": 4184.0, "int32_add": 137.0, "int8_add": 36.0},
)

#: audit kind -> the operation it is priced as (kinds not listed cost nothing here)
KIND_OPERATIONS = {
    "full_precision": "fp32_mul",
    "binary_conv_scaling": "fp32_mul",
    "shift": "int8_add",
}


@dataclass(frozen=True)
class EnergyEstimate:
    """Energy of one inference per audit kind, and its silicon area x cycles: the sum over
    operations of their unit areas (divided by a cycle budget, the area of a datapath
    that does the inference in that many cycles)."""

    model: str
    costs: OperationCosts
    counts: dict[str, int]  # audit kind -> operations per inference
    energy_uj: dict[str, float]  # audit kind -> microjoules per inference
    binary_macs: int

    @property
    def total_uj(self) -> float:
        return sum(self.energy_uj.values())

    @property
    def area_cycles_mm2(self) -> float:
        """Sum of count x unit area over the priced operations, in mm^2 x cycles."""
        return sum(
            count * self.costs.area_um2.get(KIND_OPERATIONS[kind], 0.0) * 1e-6
            for kind, count in self.counts.items()
        )


def estimate(
    report: MultiplicationReport, costs: OperationCosts = HOROWITZ_45NM, *, model: str = "model"
) -> EnergyEstimate:
    """Price `report`'s operation counts with `costs`."""
    counts = {
        kind: sum(s.count for s in report.sources if s.kind == kind) for kind in KIND_OPERATIONS
    }
    energy = {
        kind: count * costs.energy_pj[KIND_OPERATIONS[kind]] * 1e-6
        for kind, count in counts.items()
    }
    return EnergyEstimate(model, costs, counts, energy, report.binary_macs)


def table(estimates: list[EnergyEstimate], fmt: str = "text") -> str:
    """The estimates side by side (Markdown or plain text), with the source cited."""
    kinds = list(KIND_OPERATIONS)
    header = [
        "model",
        *[f"{kind} ({KIND_OPERATIONS[kind]})" for kind in kinds],
        "energy (uJ)",
        "area x cycles (mm^2)",
        "binary MACs (not priced)",
    ]
    rows = []
    for e in estimates:
        cells = [e.model]
        cells += [f"{e.counts[kind]:,} = {e.energy_uj[kind]:.2f} uJ" for kind in kinds]
        cells += [f"{e.total_uj:.2f}", f"{e.area_cycles_mm2:,.0f}", f"{e.binary_macs:,}"]
        rows.append(cells)
    source = f"per-operation figures: {estimates[0].costs.source}" if estimates else ""
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + f"\n\n{source}"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    return "\n".join(lines) + f"\n{source}"
