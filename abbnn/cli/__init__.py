"""The `abbnn` command line: it assembles the subcommands of `abbnn.cli.commands` (each owns
its options) and runs one, with one-line errors and TensorFlow's start-up logs silenced.

Building the parser imports no TensorFlow, so `abbnn --help` and `abbnn CMD --help`
answer at once; a command imports what it needs when it runs. A command's `check(args)`,
where it has one, refuses before that what needs no TensorFlow to refuse (a missing input
file, options that cannot go together), so such a mistake is named at once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from abbnn import __version__, stack
from abbnn.cli import native_logs
from abbnn.cli.commands import COMMANDS


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except where there is none to show (None, a flag's
    False) or where the help already says it in words (e.g. "default: every core", where
    the number would depend on the machine): those options say what happens by default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse's parser with one-line errors: the error and where the options are listed,
    without the usage block, whose many lines hid the one that matters (`--help` shows it)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")


def _global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show tracebacks on errors and TensorFlow's start-up logs",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="abbnn",
        description="A&B BNN (CVPR 2024) for Larq: build, train, convert and check models.",
        formatter_class=_HelpFormatter,
    )
    _global_options(parser, default=False)
    parser.add_argument("--version", action="version", version=f"abbnn {__version__}")
    # The same global options after the subcommand (`abbnn train ... --debug`); SUPPRESS
    # keeps a subcommand from resetting what was given before it.
    after = argparse.ArgumentParser(add_help=False)
    _global_options(after, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = sub.choices  # name -> its parser
    for name in COMMANDS:
        module = importlib.import_module(f"abbnn.cli.commands.{name}")
        command = sub.add_parser(
            name.replace("_", "-"),
            help=module.HELP,
            description=module.__doc__,
            parents=[after],
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(command)
        # `check`: what a command refuses before TensorFlow loads (the files it reads);
        # what `abbnn: interrupted` adds, for commands whose rerun resumes
        command.set_defaults(
            check=getattr(module, "check", None),
            run=module.run,
            interrupted=getattr(module, "INTERRUPTED", None),
        )
    return parser


def _prepare_tensorflow(debug: bool) -> None:
    """Before TensorFlow loads: Keras 2 as tf.keras (abbnn.stack), and its C++ logs (oneDNN,
    CPU features, CUDA probes, XLA) silenced unless --debug (abbnn.cli.native_logs), as are
    its Python warnings (the `tensorflow` and `absl` loggers): Keras's "Callback method
    on_train_batch_end is slow", which breaks the progress bar's line, and "Compiled the
    loaded model, but the compiled metrics have yet to be built" are about Keras's
    internals, not the user's run; errors still show."""
    stack.select()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug else "2")
    if not debug:
        native_logs.hide()
        for name in ("tensorflow", "absl"):
            logging.getLogger(name).setLevel(logging.ERROR)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python next runs (as Ctrl-C raises `KeyboardInterrupt`)."""


def _raise_terminated(signum, frame):
    raise Terminated


def _terminate_as_interrupt():
    """SIGTERM, which `timeout`, SLURM's time limit and `docker stop` send, stops a command
    as Ctrl-C does: Keras's `fit` unwinds, the run's backup stays for the rerun, and the
    user is told how to resume (the default action ended the process silently). Returns
    the handler it replaced, or None where signals cannot be set (not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse would name `abbnn`: name the command whose options they are not
        command = parser.commands.get(args.command, parser)
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 0
    _prepare_tensorflow(args.debug)
    previous = _terminate_as_interrupt()
    try:
        if args.check is not None:
            args.check(args)  # before `run` imports TensorFlow (about 3 s)
        return args.run(args)
    except KeyboardInterrupt as interrupt:
        terminated = isinstance(interrupt, Terminated)
        hint = f"; {args.interrupted}" if args.interrupted else ""
        sys.stdout.write("\n")  # end a progress bar's line: the message gets its own
        sys.stdout.flush()
        print(f"abbnn: {'terminated' if terminated else 'interrupted'}{hint}", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    except Exception as error:  # one line for users; --debug for the traceback
        if args.debug:
            raise
        lines = str(error).strip().splitlines() or [type(error).__name__]
        print(f"abbnn {args.command}: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:  # e.g. the offending keys of a checkpoint
            print(line, file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
