"""Finished run folders as the paper's results table, with the published numbers beside
ours, and a plot of accuracy against multiplications.

A run folder is what `abbnn train` or `training.two_step` writes (its layout is
`larq_abbnn.training.run_folder`'s), with any `.tflite` or QONNX `.onnx` file converted
from it (`abbnn convert RUN/step2/best.keras -o RUN/step2/best.tflite`) and the record
`abbnn evaluate` leaves beside an evaluated file. The deployed columns show only an
evaluation of the whole split the run validated on, and say which.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field

from abbnn.recipe import DATASETS
from larq_abbnn.data import ALIASES
from larq_abbnn.training.run_folder import RunFolder, full_evaluation

#: The paper's results (top-1 %, spec section 5): (network, dataset) -> {column: value}
PUBLISHED = {
    ("XNOR-Net-18", "cifar10"): {"BN": 90.21, "BN-Free": 79.67, "A&B": 89.94},
    ("XNOR-Net-18", "cifar100"): {"BN": 65.35, "BN-Free": 53.76, "A&B": 64.51},
    ("Bi-ResNet-18", "cifar10"): {"BN": 89.12, "BN-Free": 79.59, "A&B": 90.09},
    ("Bi-ResNet-18", "cifar100"): {"BN": 63.51, "BN-Free": 54.34, "A&B": 65.52},
    ("Bi-ResNet-18", "imagenet"): {"A&B": 60.38},
    ("ReActNet-18", "cifar10"): {"BN": 92.31, "BN-Free": 92.08, "A&B": 92.30},
    ("ReActNet-18", "cifar100"): {"BN": 68.78, "BN-Free": 68.34, "A&B": 69.35},
    ("ReActNet-18", "imagenet"): {"A&B": 61.39},
    ("ReActNet-34", "imagenet"): {"A&B": 65.19},
    ("ReActNet-A", "cifar10"): {"BN": 82.95, "BN-Free": 83.91, "A&B": 89.44},
    ("ReActNet-A", "cifar100"): {"BN": 50.30, "BN-Free": 55.00, "A&B": 63.23},
    ("ReActNet-A", "imagenet"): {"A&B": 66.89},
}
#: The paper's MO (multiplications per 224x224 inference, ImageNet table)
PUBLISHED_MO = {
    ("ReActNet-18", "BN-Free"): 4.60e6,
    ("ReActNet-A", "BN-Free"): 14.65e6,
    **{(network, "A&B"): 0.0 for network in ("XNOR-Net-18", "Bi-ResNet-18", "ReActNet-18")},
    ("ReActNet-34", "A&B"): 0.0,
    ("ReActNet-A", "A&B"): 0.0,
}
#: The datasets of the published results: the paper's (`abbnn.recipe.DATASETS`).
PUBLISHED_DATASETS = tuple(DATASETS)
NETWORKS = ("XNOR-Net-18", "Bi-ResNet-18", "ReActNet-18", "ReActNet-34", "ReActNet-A")
COLUMNS = ("BN", "BN-Free", "A&B")
#: zoo name -> (the paper's network, its column)
ZOO = {
    "ab_xnornet18": ("XNOR-Net-18", "A&B"),
    "ab_biresnet18": ("Bi-ResNet-18", "A&B"),
    "ab_reactnet18": ("ReActNet-18", "A&B"),
    "ab_reactnet34": ("ReActNet-34", "A&B"),
    "ab_reactneta": ("ReActNet-A", "A&B"),
    "bnfree_reactnet18": ("ReActNet-18", "BN-Free"),
    "bnfree_reactneta": ("ReActNet-A", "BN-Free"),
    "bn_reactnet18": ("ReActNet-18", "BN"),
    "bn_reactneta": ("ReActNet-A", "BN"),
}


@dataclass
class Deployment:
    """A file converted from a run, in one format: its size, its recorded accuracy on the
    run's whole validation split, and its multiplication count."""

    path: str
    bytes: int
    accuracy: float | None = None
    evaluated_on: str | None = None  # the split and image count of that accuracy
    mo: int | None = None


#: the formats a run's deployed files are read in: format name -> suffix
DEPLOYED = {"tflite": ".tflite", "qonnx": ".onnx"}


@dataclass
class Run:
    """One run folder, read."""

    folder: str
    config: dict
    steps: dict[int, dict] = field(default_factory=dict)  # step -> its done.json
    deployments: dict[str, Deployment] = field(default_factory=dict)  # by format name
    mo_224: int | None = None

    @property
    def model(self) -> str:
        return self.config["model"]

    @property
    def name(self) -> str:
        """The run's folder name: what tells two runs of one network apart."""
        return os.path.basename(os.path.normpath(self.folder))

    @property
    def network(self) -> tuple[str, str]:
        return ZOO.get(self.model, (self.model, "?"))

    @property
    def best(self) -> float | None:
        """Best validation accuracy of the last finished step."""
        if not self.steps:
            return None
        return self.steps[max(self.steps)]["best_val_accuracy"]

    def published(self, dataset: str | None = None) -> float | None:
        """The paper's top-1 (%) for this run's network and column on `dataset` (default:
        the run's), if it gives one."""
        network, column = self.network
        dataset = dataset or paper_dataset(self.config.get("dataset"))
        return PUBLISHED.get((network, dataset), {}).get(column)

    @property
    def label(self) -> str:
        extras = []
        if self.config.get("width_multiplier") is not None:  # two_step from Python: unknown
            extras.append(f"x{self.config['width_multiplier']:g}")
        if self.config.get("activation"):
            extras.append(self.config["activation"])
        if self.config.get("power_of_two_scales"):
            extras.append("power-of-two scales")
        if self.config.get("alpha"):
            extras.append(f"alpha {self.config['alpha']:g}")
        return f"{self.model} ({', '.join(extras)})" if extras else self.model


def paper_dataset(dataset: str | None) -> str | None:
    """The published results' name for a run's `--dataset` (`cifar10`, `imagenet2012`,
    `cifar10:3.0.2`), or None for image folders and other datasets."""
    if not dataset or dataset.startswith("folder:"):
        return None
    name = dataset.split(":")[0]
    name = {tfds: short for short, tfds in ALIASES.items()}.get(name, name)  # imagenet2012
    return name if name in PUBLISHED_DATASETS else None


def read_run(folder: str, *, audit: bool = True) -> Run:
    """A finished (or partly finished) run folder; `audit` adds the multiplication counts.

    Raises `ValueError` naming the folder if it holds no `run.json` or no finished step.
    """
    run_folder = RunFolder(folder)
    config = run_folder.config()
    if config is None:
        raise ValueError(
            f"{folder}: no run.json (not a folder written by abbnn train or training.two_step)"
        )
    run = Run(folder, config, steps=run_folder.finished_steps())
    if not run.steps:
        raise ValueError(f"{folder}: no finished step (no step1/done.json or step2/done.json)")
    for format_name, suffix in DEPLOYED.items():
        files = run_folder.converted_files(suffix)
        if files:  # the last step's file, if several
            path = max(files, key=lambda p: ("step2" in p, os.path.getmtime(p)))
            run.deployments[format_name] = _deployment(path, config)
    if audit:
        _audit(run)
    return run


def _deployment(path: str, config: dict) -> Deployment:
    deployment = Deployment(path, os.path.getsize(path))
    evaluation = full_evaluation(path, config.get("dataset"), config.get("validation_examples"))
    if evaluation is not None:
        deployment.accuracy = evaluation["top1"]
        split = evaluation.get("split") or config.get("validation_split") or "validation"
        deployment.evaluated_on = f"{split}, {evaluation['examples']:,} images"
    return deployment


def _audit(run: Run) -> None:
    from larq_abbnn import zoo
    from larq_abbnn.analysis import converted
    from larq_abbnn.analysis.audit import count_multiplications

    for deployment in run.deployments.values():
        try:
            deployment.mo = count_multiplications(converted.read(deployment.path)).full_precision
        except ImportError:  # a .onnx file without the [onnx] extra: its MO is left out
            deployment.mo = None
    options = {}
    for key in ("width_multiplier", "alpha", "activation"):
        if run.config.get(key) is not None:
            options[key] = run.config[key]
    if run.config.get("power_of_two_scales"):  # recorded False for models without it
        options["power_of_two_scales"] = True
    model = zoo.get(run.model)(input_shape=(224, 224, 3), **options)
    run.mo_224 = count_multiplications(model).full_precision


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def paper_table(runs: list[Run], dataset: str, fmt: str = "markdown") -> str:
    """The paper's layout for `dataset`: networks x (BN, BN-Free, A&B), each cell ours
    (best validation top-1 of the last step) and the paper's."""
    header = ["network", *[f"{c} top-1 %: ours (run); paper" for c in COLUMNS]]
    rows = []
    for network in NETWORKS:
        published = PUBLISHED.get((network, dataset), {})
        cells = [network]
        for column in COLUMNS:
            ours = [r for r in runs if r.network == (network, column)]
            # each of ours named by its run folder (the trial: "13.33 / 33.33 / 92.30")
            mine = ", ".join(f"{_percent(r.best)} ({r.name})" for r in ours) or "-"
            paper = published.get(column)
            cells.append(f"{mine}; {'-' if paper is None else f'{paper:.2f}'}")
        if any(cell != "-; -" for cell in cells[1:]) or published:
            rows.append(cells)
    return _format(header, rows, fmt)


def runs_table(runs: list[Run], fmt: str = "markdown", paper: str | None = None) -> str:
    """One row per run: what it was and what it reached, with the paper's number for its
    network on `paper` (default: the run's dataset). The CSV layout: one header row, one
    row per run."""
    header = [
        "run", "model", "dataset", "epochs", "step 1 best", "step 2 best", "paper",
        "deployed .tflite", "deployed evaluated on", "file MB", "MO (file)", "MO (224 px)",
        "deployed .onnx", ".onnx evaluated on", ".onnx MB", "MO (.onnx)",
    ]  # fmt: skip
    rows = []
    for r in runs:
        published = r.published(paper)
        tflite, qonnx = (r.deployments.get(name) for name in DEPLOYED)
        rows.append(
            [
                r.name,
                r.label,
                r.config.get("dataset", "?"),
                str(r.config.get("epochs", "?")),
                _percent(r.steps.get(1, {}).get("best_val_accuracy")),
                _percent(r.steps.get(2, {}).get("best_val_accuracy")),
                "-" if published is None else f"{published:.2f}",
                *_deployment_cells(tflite),
                "-" if r.mo_224 is None else f"{r.mo_224:,}",
                *_deployment_cells(qonnx),
            ]
        )
    return _format(header, rows, fmt)


def _deployment_cells(deployment: Deployment | None) -> list[str]:
    """Accuracy, what it was evaluated on, MB and MO of a deployed file ("-" where none)."""
    if deployment is None:
        return ["-"] * 4
    return [
        _percent(deployment.accuracy),
        deployment.evaluated_on or "-",
        f"{deployment.bytes / 1e6:.2f}",
        "-" if deployment.mo is None else f"{deployment.mo:,}",
    ]


def _format(header: list[str], rows: list[list[str]], fmt: str) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([header, *rows])
        return out.getvalue().rstrip("\n")
    if fmt != "markdown":
        raise ValueError(f"format must be 'markdown' or 'csv', got {fmt!r}")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def plot(runs: list[Run], dataset: str | None, path: str) -> None:
    """Top-1 against multiplications per 224x224 inference: our runs and the paper's."""
    from larq_abbnn.files import atomic_path
    from larq_abbnn.training.plots import pyplot

    plt = pyplot()
    fig = figure(runs, dataset, plt)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def figure(runs: list[Run], dataset: str | None, plt):
    """The plot's figure; labels of nearby points are moved apart so none overlaps."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"BN": "s", "BN-Free": "^", "A&B": "o"}
    labels = []
    for (network, d), published in PUBLISHED.items():
        if d != dataset:
            continue
        for column, value in published.items():
            mo = PUBLISHED_MO.get((network, column))
            if mo is not None:
                ax.scatter(mo / 1e6, value, marker=markers[column], facecolors="none",
                           edgecolors="gray")  # fmt: skip
                labels.append((f"{network} {column} (paper)", mo / 1e6, value))
    for r in runs:
        if r.best is not None and r.mo_224 is not None:
            _, column = r.network
            ax.scatter(r.mo_224 / 1e6, 100 * r.best, marker=markers.get(column, "x"))
            labels.append((f"{r.name}: {r.label}", r.mo_224 / 1e6, 100 * r.best))
    ax.set_xlabel("full-precision multiplications per 224x224 inference (millions)")
    ours = sorted({str(r.config.get("dataset")) for r in runs})
    ax.set_ylabel(f"top-1 (%), {dataset or ', '.join(ours)}")
    ax.set_title("ours (filled) and the paper's (hollow; MO where the paper gives it)")
    fig.tight_layout()
    _place_labels(fig, ax, labels)
    return fig


def _place_labels(fig, ax, labels: list[tuple[str, float, float]]) -> None:
    """Annotates each point beside it (left of it near the right edge), top to bottom,
    moving a label down below any label it would overlap, with a line to its point (the
    paper's A&B points share MO 0 and lie within a point of each other). matplotlib has
    no automatic label placement."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    right = ax.get_window_extent(renderer).x1
    placed = []
    for text, x, y in sorted(labels, key=lambda label: -label[2]):
        dy, side = 0.0, 1
        while True:
            note = _annotate(ax, text, (x, y), side, dy)
            box = note.get_window_extent(renderer)
            if side > 0 and box.x1 > right:
                side = -1
            elif not any(box.overlaps(other) for other in placed):
                break
            else:
                dy -= box.height * 72 / fig.dpi + 1  # points
            note.remove()
        placed.append(box)
        if dy:  # a moved label gets a line to its point
            note.remove()
            _annotate(ax, text, (x, y), side, dy, line=True)


def _annotate(ax, text: str, xy: tuple[float, float], side: int, dy: float, line=False):
    """A label 4 points right (side 1) or left (side -1) of `xy`, `dy` points up."""
    arrow = dict(arrowstyle="-", color="gray", lw=0.5, patchA=None, shrinkB=3,
                 relpos=(0.0 if side > 0 else 1.0, 0.5))  # fmt: skip
    return ax.annotate(
        text, xy, xytext=(4 * side, dy), textcoords="offset points", fontsize=7,
        va="center", ha="left" if side > 0 else "right", arrowprops=arrow if line else None,
    )  # fmt: skip
