"""From trained or imported Keras models to LCE TFLite files, and back to the reference."""

from larq_abbnn.converters.reference_layout import reference_entries
from larq_abbnn.converters.tflite_graph import op_counts

__all__ = ["reference_entries", "op_counts"]
