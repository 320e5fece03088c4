"""From trained or imported Keras models to LCE TFLite files, and from the paper's
PyTorch checkpoints to Keras models."""

from larq_abbnn.converters.audit import MultiplicationReport, count_multiplications
from larq_abbnn.converters.convert import Verification, VerificationError, convert, verify
from larq_abbnn.converters.fold import FoldError, fold
from larq_abbnn.converters.official import ImportReport, load_official_checkpoint
from larq_abbnn.converters.reference_layout import reference_entries
from larq_abbnn.converters.tflite_graph import op_counts
from larq_abbnn.converters.torch_checkpoint import CheckpointError, read_state_dict

__all__ = [
    "CheckpointError",
    "FoldError",
    "ImportReport",
    "MultiplicationReport",
    "Verification",
    "VerificationError",
    "convert",
    "count_multiplications",
    "fold",
    "load_official_checkpoint",
    "op_counts",
    "read_state_dict",
    "reference_entries",
    "verify",
]
