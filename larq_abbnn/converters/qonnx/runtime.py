"""Running a QONNX export: qonnx's executor (`execute_onnx`: onnxruntime node by node,
qonnx's Python for its custom ops), and qonnx's shape inference, which the export and the
passes share."""

from __future__ import annotations

import numpy as np

from larq_abbnn.converters import contract
from larq_abbnn.converters.extras import onnx_module as _onnx


def infer_shapes(proto):
    """Every tensor's shape, by qonnx's `InferShapes` (onnx's own inference cannot type
    the outputs of custom ops such as `BipolarQuant`, nor anything after them). In place:
    `proto` is changed and returned (a copy of a ReActNet-A export is 117 MB)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    return ModelWrapper(proto).transform(InferShapes(), make_deepcopy=False).model


def with_batch(proto, batch_size: int):
    """A copy of a batch-1 export that takes `batch_size` images: the same nodes and
    constants, the batch axis of the input and outputs set, the shapes inferred again."""
    onnx = _onnx()
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    del copy.graph.value_info[:]
    for value in (*copy.graph.input, *copy.graph.output):
        value.type.tensor_type.shape.dim[0].dim_value = batch_size
    return infer_shapes(copy)


def execute(proto, images: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
    """The logits of a QONNX export on NHWC `images` (as the Keras model takes them),
    computed by qonnx's executor (`execute_onnx`: onnxruntime node by node, qonnx's
    Python for its custom ops), `batch_size` images at a time."""
    _onnx()
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    uint8 = proto.graph.input[0].type.tensor_type.elem_type == _onnx().TensorProto.UINT8
    takes = np.uint8 if uint8 else np.float32
    contract.check_pixels(images, takes)
    images = np.asarray(images, takes)
    expected = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim][1:]
    if list(images.shape[1:]) != [expected[1], expected[2], expected[0]]:
        raise ValueError(
            f"images of shape {images.shape[1:]} (NHWC), the file takes "
            f"{(expected[1], expected[2], expected[0])}"
        )
    runners: dict[int, tuple] = {}
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = np.transpose(images[start : start + batch_size], (0, 3, 1, 2))
        if len(batch) not in runners:
            wrapper = ModelWrapper(with_batch(proto, len(batch)))
            runners[len(batch)] = wrapper, wrapper.graph.input[0].name, wrapper.graph.output[0].name
        wrapper, input_name, output_name = runners[len(batch)]
        outputs.append(execute_onnx(wrapper, {input_name: batch})[output_name])
    return np.concatenate(outputs)
