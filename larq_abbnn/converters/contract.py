"""What a converted file takes and returns, written into the file itself, so that the code
on a board or an FPGA host can read it rather than guess: float32 images scaled to [0, 1]
and normalized with ImageNet's per-channel mean and std (the paper's normalization,
`larq_abbnn.data.preprocess_input`), NHWC in a TFLite file and NCHW in a QONNX file; the
output is logits, not probabilities (larq-zoo's models end in a softmax, these do not).
A file converted with `input_pixels="uint8"` takes raw uint8 pixels instead, and says so.

The record is JSON under the name `NAME`: a TFLite `Metadata` entry (LCE's own entries
are kept) and an ONNX `metadata_props` entry. TFLite's metadata is written with the
flatbuffer object API of LCE's schema, which neither TensorFlow's converter nor LCE's
offers a hook for (tflite-support's writer needs its own schema of the inputs, and no
wheel of it installs beside TF 2.21).
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf

from larq_abbnn.data.transforms import MEAN, STD

#: The metadata name of the record in both formats.
NAME = "larq_abbnn.contract"


def input_pixels(folded) -> str:
    """What a folded model takes (`fold.INPUT_PIXELS`): "uint8" pixels when its input is
    uint8 (normalized inside), else "normalized" images."""
    return "uint8" if folded.inputs[0].dtype == tf.uint8 else "normalized"


def check_pixels(images: np.ndarray, takes) -> None:
    """A `ValueError` for normalized images given to a file that takes raw uint8 pixels
    (`takes`, the file's input dtype): casting them would compute on garbage silently."""
    images = np.asarray(images)
    if np.dtype(takes) == np.uint8 and images.dtype != np.uint8:
        raise ValueError(
            f"the file takes raw uint8 pixels (converted with input_pixels='uint8'), got "
            f"{images.dtype} images: give the pixels in [0, 255] as uint8"
        )


def describe(layout: str, pixels: str = "normalized") -> dict:
    """The record for a file whose images are laid out as `layout` ("NHWC" or "NCHW") and
    take `pixels` ("normalized" images, or raw "uint8" pixels normalized inside)."""
    if pixels == "uint8":
        images = {
            "dtype": "uint8",
            "layout": layout,
            "pixels": "raw, in [0, 255]: the file normalizes them ((x / 255 - mean) / std "
            "per channel, its first ops)",
        }
    else:
        images = {
            "dtype": "float32",
            "layout": layout,
            "pixels": "scaled from [0, 255] to [0, 1], then (x - mean) / std per channel",
            "python": "larq_abbnn.data.preprocess_input",
        }
    return {
        "input": {**images, "mean": list(MEAN), "std": list(STD)},
        "output": "logits, one per class (no softmax)",
    }


def add_to_tflite(flatbuffer: bytes, pixels: str = "normalized") -> bytes:
    """`flatbuffer` with the record (NHWC) as one more metadata entry."""
    import flatbuffers
    from larq_compute_engine.mlir.python import tflite_schema as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(describe("NHWC", pixels)).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(len(flatbuffer) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def add_to_onnx(proto, layout: str, pixels: str = "normalized") -> None:
    """The record (images in `layout`) as one of `proto`'s metadata_props, in place (it
    replaces a record there: a rewrite to another layout updates it)."""
    for entry in list(proto.metadata_props):
        if entry.key == NAME:
            proto.metadata_props.remove(entry)
    entry = proto.metadata_props.add()
    entry.key, entry.value = NAME, json.dumps(describe(layout, pixels))


def read_input_pixels(converted) -> str:
    """What a converted file takes, by its record: "uint8" or "normalized" (files without a
    record, written before it existed, took normalized images)."""
    record = read(converted)
    return "uint8" if record and record["input"]["dtype"] == "uint8" else "normalized"


def read(converted) -> dict | None:
    """The record of TFLite bytes or an `onnx.ModelProto`, or None where it has none (an
    hls4ml model, which takes normalized images only)."""
    if isinstance(converted, (bytes, bytearray)):
        from larq_compute_engine.mlir.python import tflite_schema as schema

        model = schema.Model.GetRootAsModel(bytes(converted), 0)
        for i in range(model.MetadataLength()):
            if model.Metadata(i).Name().decode() == NAME:
                data = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy()
                return json.loads(bytes(data).decode())
        return None
    for entry in getattr(converted, "metadata_props", ()):
        if entry.key == NAME:
            return json.loads(entry.value)
    return None
