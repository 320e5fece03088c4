"""The FINN side of the FPGA flow: a QONNX file written by `abbnn convert` through FINN's
(finn-plus) front end, streamlining and hardware-layer inference, executed in Python and
costed with FINN's resource estimates (`flow`; `python -m abbnn.finn`, docs/fpga.md).

FINN needs numpy >= 2.4.6 and Larq numpy < 2, so it runs in a venv of its own
(`tools/make_finn_venv.sh`), fed the file. Nothing here imports TensorFlow or
`larq_abbnn` (a test reads the imports): the venv has neither.
"""
