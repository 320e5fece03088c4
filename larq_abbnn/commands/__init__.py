"""Implementations of the `abbnn` subcommands (imported on demand by `larq_abbnn.cli`)."""
