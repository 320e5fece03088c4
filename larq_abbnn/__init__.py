"""larq-abbnn: the A&B BNN (CVPR 2024) for Larq, trainable in Keras, deployable with LCE.

Importing the package registers its layers and quantizers with Keras, so that
`tf.keras.models.load_model` reads the models it saves (as `import larq` does for Larq's).
"""

from abbnn import __version__  # one source, readable without TensorFlow
from abbnn import stack as _stack

_stack.select()  # before TensorFlow's first import (abbnn/stack.py says why)
try:
    import tensorflow as _tf
except ImportError as _error:  # TensorFlow comes through an extra, as with larq
    raise ImportError(
        'larq-abbnn needs TensorFlow: pip install "larq-abbnn[tensorflow]" on a CPU machine '
        'or "larq-abbnn[tensorflow_gpu]" on a GPU machine'
    ) from _error


def _layer_module() -> str | None:
    try:
        return _tf.keras.layers.Layer.__module__
    except (ImportError, AttributeError):  # TF 2.16+ asked for tf_keras without it
        return None


_problem = _stack.problem(_tf.__version__, _layer_module(), _stack.has_tf_keras())
if _problem:
    raise ImportError(_problem)

from larq_abbnn import layers, quantizers  # noqa: E402  (after the check above)

#: The public subpackages, in the order the data flows (docs/architecture.md).
__all__ = [
    "__version__",
    "quantizers",
    "layers",
    "families",
    "checkpoints",
    "zoo",
    "data",
    "training",
    "converters",
    "analysis",
    "files",
]
