"""Reads finished run folders (abbnn train's: run.json, step1/ and step2/ results, any
converted .tflite with the accuracy abbnn evaluate recorded beside it) and prints the
paper's results table, our numbers beside the published ones, plus one row per run with
its deployed accuracy, file size and multiplications; --plot writes accuracy against
multiplications per 224x224 inference, ours and the paper's."""

from __future__ import annotations

import argparse

HELP = "the paper's results table from finished run folders, ours beside the published"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run folders written by abbnn train")
    parser.add_argument(
        "--paper",
        choices=["cifar10", "cifar100", "imagenet"],
        default=None,
        help="which published column set to put beside ours (default: the runs' --dataset "
        "when it is one of these; say so for image folders, e.g. CIFAR-10 as JPEGs)",
    )
    parser.add_argument(
        "--format", choices=["markdown", "csv"], default="markdown", help="table format"
    )
    parser.add_argument("--plot", default=None, metavar="PNG", help="write the plot here")


def run(args: argparse.Namespace) -> int:
    from larq_abbnn.analysis import report

    runs = [report.read_run(folder) for folder in args.runs]
    datasets = {r.config.get("dataset") for r in runs}
    paper = args.paper or (datasets.pop() if len(datasets) == 1 else None)
    if paper not in report.PUBLISHED_DATASETS:
        raise ValueError(
            f"say which published results to compare with (--paper cifar10, cifar100 or "
            f"imagenet): the runs' datasets are {sorted(map(str, datasets | {paper}))}"
        )
    print(f"# {paper}: ours (best validation top-1 of the last step) / the paper's\n")
    print(report.paper_table(runs, paper, args.format))
    print()
    print(report.runs_table(runs, args.format))
    if args.plot:
        report.plot(runs, paper, args.plot)
        print(f"\nwrote {args.plot}")
    return 0
