"""larq-abbnn: the A&B BNN (CVPR 2024) for Larq, trainable in Keras, deployable with LCE.

Importing the package registers its layers and quantizers with Keras, so that
`tf.keras.models.load_model` reads the models it saves (as `import larq` does for Larq's).
"""

from abbnn import __version__  # one source, readable without TensorFlow

try:
    import tensorflow as _tf
except ImportError as _error:  # TensorFlow comes through an extra, as with larq
    raise ImportError(
        'larq-abbnn needs TensorFlow 2.15 (Keras 2): pip install "larq-abbnn[tensorflow]" '
        'on a CPU machine or "larq-abbnn[tensorflow_gpu]" on a GPU machine'
    ) from _error
if not _tf.__version__.startswith("2.15."):
    raise ImportError(
        f"larq-abbnn needs TensorFlow 2.15 (Keras 2; Larq does not run on Keras 3), found "
        f'{_tf.__version__}: pip install "larq-abbnn[tensorflow]" (or [tensorflow_gpu])'
    )

from larq_abbnn import layers, quantizers  # noqa: E402  (after the check above)

#: The public subpackages, in the order the data flows (docs/architecture.md).
__all__ = [
    "__version__",
    "quantizers",
    "layers",
    "checkpoints",
    "zoo",
    "data",
    "training",
    "conversion",
    "analysis",
    "files",
]
