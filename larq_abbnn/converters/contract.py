"""What a converted file takes and returns, written into the file itself, so that the code
on a board or an FPGA host can read it rather than guess: float32 images scaled to [0, 1]
and normalized with ImageNet's per-channel mean and std (the paper's normalization,
`larq_abbnn.data.preprocess_input`), NHWC in a TFLite file and NCHW in a QONNX file; the
output is logits, not probabilities (larq-zoo's models end in a softmax, these do not).

The record is JSON under the name `NAME`: a TFLite `Metadata` entry (LCE's own entries
are kept) and an ONNX `metadata_props` entry. TFLite's metadata is written with the
flatbuffer object API of LCE's schema, which neither TensorFlow's converter nor LCE's
offers a hook for (tflite-support's writer needs its own schema of the inputs, and no
wheel of it installs beside TF 2.21).
"""

from __future__ import annotations

import json

import numpy as np

from larq_abbnn.data.transforms import MEAN, STD

#: The metadata name of the record in both formats.
NAME = "larq_abbnn.contract"


def describe(layout: str) -> dict:
    """The record for a file whose images are laid out as `layout` ("NHWC" or "NCHW")."""
    return {
        "input": {
            "dtype": "float32",
            "layout": layout,
            "pixels": "scaled from [0, 255] to [0, 1], then (x - mean) / std per channel",
            "mean": list(MEAN),
            "std": list(STD),
            "python": "larq_abbnn.data.preprocess_input",
        },
        "output": "logits, one per class (no softmax)",
    }


def add_to_tflite(flatbuffer: bytes) -> bytes:
    """`flatbuffer` with the record (NHWC) as one more metadata entry."""
    import flatbuffers
    from larq_compute_engine.mlir.python import tflite_schema as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(describe("NHWC")).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def add_to_onnx(proto, layout: str) -> None:
    """The record (images in `layout`) as one of `proto`'s metadata_props, in place."""
    entry = proto.metadata_props.add()
    entry.key, entry.value = NAME, json.dumps(describe(layout))


def read(converted) -> dict | None:
    """The record of TFLite bytes or an `onnx.ModelProto`, or None where it has none."""
    if isinstance(converted, (bytes, bytearray)):
        from larq_compute_engine.mlir.python import tflite_schema as schema

        model = schema.Model.GetRootAsModel(bytes(converted), 0)
        for i in range(model.MetadataLength()):
            if model.Metadata(i).Name().decode() == NAME:
                data = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode())
        return None
    for entry in converted.metadata_props:
        if entry.key == NAME:
            return json.loads(entry.value)
    return None
