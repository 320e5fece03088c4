"""Top-k accuracy in any float type.

Keras's `SparseTopKCategoricalAccuracy` calls `tf.math.in_top_k`, which has no float64
kernel, so a float64 model (the zoo follows Keras's floatx) could not be compiled with it.
Counting the classes that score strictly higher than the label gives the same answer as
`in_top_k` (ties at the boundary count as in the top k) in every dtype.
"""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="larq_abbnn")
def sparse_top_k_accuracy(y_true: tf.Tensor, y_pred: tf.Tensor, k: int = 5) -> tf.Tensor:
    """1.0 where fewer than `k` classes score strictly higher than the true class."""
    labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
    scores = tf.reshape(y_pred, [tf.shape(labels)[0], -1])
    true_score = tf.gather(scores, labels, batch_dims=1)[:, None]
    higher = tf.reduce_sum(tf.cast(scores > true_score, tf.int32), axis=-1)
    return tf.cast(higher < k, tf.keras.backend.floatx())


def top_k_accuracy(k: int = 5, name: str | None = None) -> tf.keras.metrics.Metric:
    """A Keras metric of `sparse_top_k_accuracy`, named `top{k}` by default."""
    return tf.keras.metrics.MeanMetricWrapper(sparse_top_k_accuracy, name=name or f"top{k}", k=k)
