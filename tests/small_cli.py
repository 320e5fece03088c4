"""`python tests/small_cli.py ARGS` runs `abbnn ARGS` with the zoo's `ab_reactnet18` built
with one block per stage (`networks.ab_reactnet18_one_block_per_stage`: 4 binary convs
instead of 16), and is otherwise the command as typed: the same parser, run folder,
callbacks, strategies and tuner. It loads TensorFlow at start-up, before the command's
`check` (test_reliability tests that `abbnn` does not).

For the tests whose claim is a mechanism of the command line (a killed run resumes, the
tuner's trials and its distributed mode, the strategies, float64) rather than the network:
each step they train traces and starts in about a third of the time (2 cores, width
0.125: train step traced in 1.7 vs 5.2 s, its first call 1.0 vs 2.3 s). The whole
network goes through the same commands in test_train_cli's two-step run, test_cli and the
documents' commands (test_docs_commands)."""

import sys

from abbnn import cli

_prepare_tensorflow = cli._prepare_tensorflow


def _prepare_with_the_small_network(debug: bool) -> None:
    _prepare_tensorflow(debug)  # Keras 2 and TensorFlow's logs first, as `abbnn` does
    import networks  # loads TensorFlow

    from larq_abbnn import zoo

    zoo.MODELS["ab_reactnet18"] = networks.ab_reactnet18_one_block_per_stage


cli._prepare_tensorflow = _prepare_with_the_small_network
if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
