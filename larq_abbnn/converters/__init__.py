"""Trained Keras models to LCE TFLite files: `fold` rewrites the training graph into an
exactly equivalent inference graph, `convert` runs LCE's converter on it, `verify` checks
that the file computes what the model computes."""

from larq_abbnn.converters.fold import FoldError, fold
from larq_abbnn.converters.lce import convert
from larq_abbnn.converters.verify import Verification, VerificationError, verify

__all__ = ["FoldError", "Verification", "VerificationError", "convert", "fold", "verify"]
