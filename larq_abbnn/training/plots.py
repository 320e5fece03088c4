"""PNG plots of a run folder: the paper's training-curve figure and slope-distribution figure."""

from __future__ import annotations

import os

import numpy as np

from larq_abbnn.files import atomic_path
from larq_abbnn.training.run_folder import RunFolder, StepFolder


def pyplot():
    """matplotlib's pyplot on the Agg backend (every plot of the package draws with it)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on training machines
    import matplotlib.pyplot as plt

    return plt


def training_curves(folder: str, path: str) -> None:
    """Accuracy and loss per epoch, step 1 then step 2 on one epoch axis."""
    plt = pyplot()
    fig = curves_figure(folder, plt)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def curves_figure(folder: str, plt):
    """The figure of `training_curves`."""
    from matplotlib.ticker import MaxNLocator

    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4))
    run = RunFolder(folder)
    offset = 0
    for step in (1, 2):
        history = run.history(step)
        if not history:
            continue
        epochs = offset + np.arange(1, len(history["loss"]) + 1)
        # markers: a step of one epoch is a point, which a line alone would not show
        for key, style in (("accuracy", "o-"), ("val_accuracy", "s--")):
            if key in history:
                acc_ax.plot(epochs, history[key], style, ms=4, label=f"step {step} {key}")
        for key, style in (("loss", "o-"), ("val_loss", "s--")):
            if key in history:
                loss_ax.plot(epochs, history[key], style, ms=4, label=f"step {step} {key}")
        if offset:
            for ax in (acc_ax, loss_ax):
                ax.axvline(offset + 0.5, color="grey", linewidth=0.8)
        offset = int(epochs[-1])
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    for ax in (acc_ax, loss_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: no 1.2
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


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
    plt = pyplot()
    fig = slopes_figure(values, model.name, plt)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return True


def slopes_figure(values: np.ndarray, name: str, plt):
    """The figure of `slope_histogram`: one bar per integer exponent, ticked at each."""
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.arange(values.min() - 0.5, values.max() + 1.5)
    ax.hist(values, bins=bins, rwidth=0.85)
    # exponents are integers: a tick per exponent, not matplotlib's -3.4, -3.2, ...
    ax.set_xticks(np.arange(values.min(), values.max() + 1))
    ax.set(
        xlabel="slope exponent (slope = 2**exponent)",
        ylabel="channels",
        title=f"Q-PReLU slopes of {name} ({values.size} channels)",
    )
    fig.tight_layout()
    return fig


def write_plots(folder: str) -> list[str]:
    """`curves.png` and, for the last finished step's best model, `slopes.png`."""
    from larq_abbnn.saved_models import load_keras_file

    written = []
    curves = os.path.join(folder, "curves.png")
    training_curves(folder, curves)
    written.append(curves)
    for step in (2, 1):
        best = StepFolder(RunFolder(folder).step_folder(step)).best
        if os.path.exists(best):
            model = load_keras_file(best)
            slopes = os.path.join(folder, "slopes.png")
            if slope_histogram(model, slopes):
                written.append(slopes)
            break
    return written
