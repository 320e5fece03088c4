"""`abbnn`: the A&B BNN's recipe constants and its command line, without TensorFlow.

`abbnn.recipe` holds the paper's training defaults and the choices the models offer, and
`abbnn.stack` the supported TensorFlow stacks: the library (`larq_abbnn`) imports these
two and nothing else from here. `abbnn.cli` is the `abbnn` command, whose subcommands
(`abbnn.cli.commands`) import TensorFlow and `larq_abbnn` (the Larq implementation) only
when they run, so that `abbnn --help` answers at once. Nothing here imports TensorFlow
at module level.
"""

__version__ = "0.1.0"
