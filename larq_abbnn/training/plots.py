"""PNG plots of a run folder: the paper's training-curve figure and slope-distribution figure."""

from __future__ import annotations

import os

import numpy as np

from larq_abbnn.files import atomic_path
from larq_abbnn.training.run import read_history


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on training machines
    import matplotlib.pyplot as plt

    return plt


def training_curves(folder: str, path: str) -> None:
    """Accuracy and loss per epoch, step 1 then step 2 on one epoch axis."""
    plt = _pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    offset = 0
    for step in (1, 2):
        history = read_history(os.path.join(folder, f"step{step}", "history.csv"))
        if not history:
            continue
        epochs = offset + np.arange(1, len(history["loss"]) + 1)
        for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
            if key in history:
                acc_ax.plot(epochs, history[key], style, label=f"step {step} {key}")
        for key, style in (("loss", "-"), ("val_loss", "--")):
            if key in history:
                loss_ax.plot(epochs, history[key], style, label=f"step {step} {key}")
        if offset:
            for ax in (acc_ax, loss_ax):
                ax.axvline(offset + 0.5, color="grey", linewidth=0.8)
        offset = int(epochs[-1])
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def slope_histogram(model, path: str) -> bool:
    """Histogram of the Q-PReLU slope exponents round(L); False if the model has none."""
    from larq_abbnn import layers

    exponents = [
        np.asarray(layer.exponents).ravel()
        for layer in model.layers
        if isinstance(layer, layers.QuantRPReLU)
    ]
    if not exponents:
        return False
    values = np.concatenate(exponents).astype(int)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.arange(values.min() - 0.5, values.max() + 1.5)
    ax.hist(values, bins=bins, rwidth=0.85)
    ax.set(
        xlabel="slope exponent (slope = 2**exponent)",
        ylabel="channels",
        title=f"Q-PReLU slopes of {model.name} ({values.size} channels)",
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return True


def write_plots(folder: str) -> list[str]:
    """`curves.png` and, for the last finished step's best model, `slopes.png`."""
    import tensorflow as tf

    written = []
    curves = os.path.join(folder, "curves.png")
    training_curves(folder, curves)
    written.append(curves)
    for step in (2, 1):
        best = os.path.join(folder, f"step{step}", "best.keras")
        if os.path.exists(best):
            model = tf.keras.models.load_model(best, compile=False)
            slopes = os.path.join(folder, "slopes.png")
            if slope_histogram(model, slopes):
                written.append(slopes)
            break
    return written
