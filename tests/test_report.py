"""The results plot of `abbnn report` (the tables are tested on real run folders in
test_train_cli.py)."""

import pytest
from matplotlib.text import Text

from larq_abbnn.analysis import report
from larq_abbnn.training.plots import pyplot


def _run(model: str, best: float, mo_224: int, folder: str = "") -> report.Run:
    return report.Run(
        folder=f"runs/{folder or model}",
        config={"model": model, "width_multiplier": 0.5},
        steps={2: {"best_val_accuracy": best}},
        mo_224=mo_224,
    )


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet"])
def test_plot_labels_do_not_overlap_and_stay_inside_the_figure(dataset):
    """The paper's A&B points share MO 0 and lie within a point of each other (CIFAR-10:
    Bi-ResNet-18 90.09, XNOR-Net-18 89.94, ReActNet-A 89.44); runs land among them."""
    plt = pyplot()
    runs = [
        _run("ab_reactnet18", 0.8995, 0),
        _run("bn_reactnet18", 0.9000, 796_544),
        _run("bnfree_reactneta", 0.85, 14_651_392),
        _run("ab_reactnet18", 0.70, 0, folder="second"),  # two runs of one network
    ]
    fig = report.figure(runs, dataset, plt)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        texts = list(fig.axes[0].texts)
        boxes = [Text.get_window_extent(t, renderer) for t in texts]  # without lines
        assert {t.get_text() for t in texts} >= {
            "ab_reactnet18: ab_reactnet18 (x0.5)",  # runs are named by their folders
            "second: ab_reactnet18 (x0.5)",
            "bn_reactnet18: bn_reactnet18 (x0.5)",
        }
        for i, a in enumerate(boxes):
            assert fig.bbox.contains(a.x0, a.y0) and fig.bbox.contains(a.x1, a.y1), texts[
                i
            ].get_text()
            for j in range(i):
                assert not a.overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    finally:
        plt.close(fig)
