"""The NF-Net beta of every block: 1/sqrt of the variance the block's input is expected
to carry (Brock et al., 2021), which the mask layer makes vanish at inference."""

from __future__ import annotations

from collections.abc import Sequence


def resnet_betas(
    blocks_per_stage: Sequence[int], downsamples: Sequence[bool], alpha: float
) -> list[list[float]]:
    """Per-block beta = 1/sqrt(expected_var) of the NF-ResNet variance bookkeeping.

    The first block of a stage sees the variance carried in; a transition block resets
    it to 1; every later block adds alpha**2 after itself (Brock et al., 2021). Written
    with the same float expressions as the reference so the values match bit for bit.
    """
    expected_var, betas = 1.0, []
    for n, downsample in zip(blocks_per_stage, downsamples):
        stage = [1.0 / expected_var**0.5]
        if downsample:
            expected_var = 1.0
        for _ in range(1, n):
            stage.append(1.0 / expected_var**0.5)
            expected_var += alpha**2
        betas.append(stage)
    return betas


def reactnet_a_betas(strides: Sequence[int], alpha: float) -> list[tuple[float, float]]:
    """(beta1, beta2) per ReActNet-A block: both binary paths advance the variance."""
    expected_var = 1.0
    beta1 = 1.0 / expected_var**0.5
    expected_var += alpha**2
    beta2 = 1.0 / expected_var**0.5
    betas = []
    for stride in strides:
        betas.append((beta1, beta2))
        if stride == 2:
            expected_var = 1.0
        else:
            expected_var += alpha**2
        beta1 = 1.0 / expected_var**0.5
        expected_var += alpha**2
        beta2 = 1.0 / expected_var**0.5
    return betas
