"""The paper's PyTorch checkpoints into Keras models: read `torch.save` files without
PyTorch (`torch_checkpoint`), map each state-dict key to a zoo layer's variable
(`reference_layout`), and fill a model with a report of what matched (`official`)."""

from larq_abbnn.checkpoints.official import ImportReport, load_official_checkpoint
from larq_abbnn.checkpoints.reference_layout import reference_entries
from larq_abbnn.checkpoints.torch_checkpoint import CheckpointError, read_state_dict

__all__ = [
    "CheckpointError",
    "ImportReport",
    "load_official_checkpoint",
    "read_state_dict",
    "reference_entries",
]
