"""larq-abbnn: the A&B BNN (CVPR 2024) for Larq, trainable in Keras, deployable with LCE."""

from larq_abbnn import layers, quantizers

__version__ = "0.1.0"

__all__ = ["layers", "quantizers", "__version__"]
