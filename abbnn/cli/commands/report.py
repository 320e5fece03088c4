"""Reads finished run folders (abbnn train's: run.json, step1/ and step2/ results, any
converted .tflite with the accuracy abbnn evaluate recorded beside it) and prints the
paper's results table, our numbers beside the published ones, plus one row per run with
its deployed accuracy (an evaluation of the whole validation split only), file size and
multiplications; --plot writes accuracy against multiplications per 224x224 inference,
ours and the paper's. --format csv writes one table: the row per run, with the paper's
number for its network in the "paper" column."""

from __future__ import annotations

import argparse

from abbnn import recipe

HELP = "the paper's results table from finished run folders, ours beside the published"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run folders written by abbnn train")
    parser.add_argument(
        "--paper",
        choices=list(recipe.DATASETS),
        default=None,
        help="which published results to put beside ours (default: the runs' --dataset "
        "when it is one of these; say so for image folders, e.g. CIFAR-10 as JPEGs)",
    )
    parser.add_argument(
        "--format",
        choices=["markdown", "csv"],
        default="markdown",
        help="markdown: the paper's table and the row per run; csv: the row per run only",
    )
    parser.add_argument(
        "--plot", default=None, metavar="FILE", help="write the plot here (.png, .pdf, .svg)"
    )


def _check_plot_path(path: str) -> None:
    """Refuse a format matplotlib cannot write, or a place that cannot be written, before
    anything is read or created."""
    import os

    from matplotlib.backend_bases import FigureCanvasBase

    from larq_abbnn.files import check_writable

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if suffix not in formats:
        raise ValueError(
            f"--plot {path}: matplotlib cannot write .{suffix or '(no suffix)'} files; use "
            + ", ".join(f".{name}" for name in sorted(formats))
        )
    check_writable(path)


def run(args: argparse.Namespace) -> int:
    import sys

    from larq_abbnn.analysis import report

    if args.plot:
        _check_plot_path(args.plot)
    runs = [report.read_run(folder) for folder in args.runs]
    datasets = sorted({str(r.config.get("dataset")) for r in runs})
    found = {report.paper_dataset(d) for d in datasets}
    paper = args.paper or (found.pop() if len(found) == 1 else None)
    if args.format == "csv":
        print(report.runs_table(runs, "csv", paper))
    elif paper is None:
        print(
            "report: no published results to put beside these runs: their datasets are "
            f"{', '.join(datasets)}; --paper cifar10, cifar100 or imagenet says which "
            "(e.g. for CIFAR-10 as image files)",
            file=sys.stderr,
        )
        print(report.runs_table(runs, args.format))
    else:
        print(f"# {paper}: ours (best validation top-1 of the last step) / the paper's\n")
        print(report.paper_table(runs, paper, args.format))
        print()
        print(report.runs_table(runs, args.format, paper))
    if args.plot:
        report.plot(runs, paper, args.plot)
        print(f"\nwrote {args.plot}")
    return 0
