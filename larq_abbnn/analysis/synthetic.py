"""Weights that look trained, for timing and equivalence checks without a training run."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def trained_looking(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Fill `model` in place with random weights shaped like trained ones, and return it.

    Gains (and BatchNorm scales and variances) near 1, Q-PReLU exponents in the paper's
    range, small non-zero biases and means. For
    timing and equivalence checks without trained weights: a fresh model's zero biases
    are dropped by the TFLite converter, so its file would have fewer ops than a trained
    one (ABReActNetA: 31 ADD instead of 92 before the fold merged them), and its
    pre-sign values would sit at exactly 0 more often than a trained model's.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "gain" in w.name or "gamma" in w.name or "moving_variance" in w.name:
            w.assign(rng.uniform(0.5, 1.5, w.shape))
        elif "beta" in w.name or "moving_mean" in w.name:  # BatchNorm
            w.assign(rng.normal(0, 0.1, w.shape))
        elif "exponent" in w.name:
            w.assign(rng.uniform(-6, 1.4, w.shape))
        elif "alpha" in w.name:  # PReLU slopes
            w.assign(rng.uniform(0, 0.5, w.shape))
        elif "bias" in w.name:
            w.assign(rng.normal(0, 0.1, w.shape))
        else:
            w.assign(rng.normal(0, 0.05, w.shape))
    return model
