"""The `abbnn` subcommands, one module each, in the order `abbnn --help` lists them.

Each module has `HELP` (one line for the command list), a docstring (the command's
`--help` description), `add_arguments(parser)` and `run(args) -> exit code`. Modules import
only argparse and `abbnn` at their top; `run` imports TensorFlow and `larq_abbnn`, so that
building the parser (for `--help`) loads neither.
"""

#: module names under `abbnn.cli.commands`; the command is the name with "-" for "_"
COMMANDS = (
    "demo",
    "summary",
    "train",
    "tune",
    "evaluate",
    "convert",
    "audit",
    "benchmark",
    "report",
    "import_torch",
)
