"""What a converted file costs and computes: reading TFLite files (`tflite_file`), the
paper's multiplication count (`audit`), latency and size (`benchmark`, `size`), the
comparison against other binary networks (`comparison`) and accuracy on data
(`accuracy`)."""

from larq_abbnn.analysis.audit import MultiplicationReport, count_multiplications
from larq_abbnn.analysis.kernels import KERNELS, default_kernel
from larq_abbnn.analysis.tflite_file import op_counts, read_tflite

__all__ = [
    "KERNELS",
    "MultiplicationReport",
    "count_multiplications",
    "default_kernel",
    "op_counts",
    "read_tflite",
]
