"""Write float64 fixtures from the authors' own PyTorch code, for tests that run without it.

    pip install torch torchvision            # not a dependency of larq-abbnn
    git clone https://github.com/Ruichen0424/AB-BNN /tmp/AB-BNN
    python tools/make_reference_fixtures.py --ab-bnn /tmp/AB-BNN

The authors' modules are imported from their checkout, never copied. For each case, one
block at a small width is built from their `Network/` package in float64, and their
training loop (Train_Cifar_step1/2 notebooks) runs 3 updates, one per "epoch" so that
`LambdaLR`'s linear decay changes the rate twice: `loss.backward()`,
`adaptive_clip_grad(..., 0.001)` on every parameter, `torch.optim.Adam` with weight decay
on the 4-D parameters (their `(ndim == 4 or 'conv' in name) and 'L_alpha' not in name`).
The loss is `mean(out**2) / 2`, which needs no stored target.

`tests/data/reference_training.npz` holds, per case `C`: `C/x` (NCHW input), `C/betas`,
`C/alpha`, `C/weight_decay`, `C/out` and `C/x_grad` (output and input gradient at the
initial weights), `C/loss` (the 3 losses), and every state-dict key twice,
`C/init/KEY` and `C/final/KEY` (after the 3 updates), in PyTorch layout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

LEARNING_RATE = 1e-3
CLIP_FACTOR = 0.001  # the CIFAR notebooks
EPOCHS = 3
ALPHA = 0.25


def _cases():
    """(name, module, input shape, betas, weight decay) per case; modules from the authors."""
    import torch.nn as nn

    from Network import ReActNet_18_Qa, ReActNet_18_Qaw, ReActNet_A_Qa, ReActNet_A_Qaw

    def resnet_block(module, step):
        downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2),
            (module.Bconv1x1 if step == 2 else module.conv1x1)(8, 16),
        )
        beta = 1.0 / (1.0 + 2 * ALPHA**2) ** 0.5  # a block three into its stage
        return module.BasicBlock(8, 16, ALPHA, beta, stride=2, downsample=downsample), (beta,)

    def reactnet_a_block(module):
        beta1, beta2 = 1.0 / (1.0 + 2 * ALPHA**2) ** 0.5, 1.0 / (1.0 + 3 * ALPHA**2) ** 0.5
        return module.BasicBlock(8, 16, ALPHA, beta1, beta2, stride=2), (beta1, beta2)

    return [
        ("ab_reactnet18_step1", *resnet_block(ReActNet_18_Qa, 1), 5e-6),
        ("ab_reactnet18_step2", *resnet_block(ReActNet_18_Qaw, 2), 0.0),
        ("ab_reactneta_step1", *reactnet_a_block(ReActNet_A_Qa), 5e-6),
        ("ab_reactneta_step2", *reactnet_a_block(ReActNet_A_Qaw), 0.0),
    ]


def _run(name, block, betas, weight_decay, seed):
    import torch

    from Network.utils import adaptive_clip_grad

    torch.manual_seed(seed)
    block = block.double()
    out = {f"{name}/betas": np.array(betas), f"{name}/alpha": np.array(ALPHA)}
    out[f"{name}/weight_decay"] = np.array(weight_decay)
    for key, value in block.state_dict().items():
        out[f"{name}/init/{key}"] = value.detach().numpy().copy()
    x = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    out[f"{name}/x"] = x.numpy().copy()

    x_probe = x.clone().requires_grad_(True)
    y = block(x_probe)
    (0.5 * (y**2).mean()).backward()
    out[f"{name}/out"] = y.detach().numpy().copy()
    out[f"{name}/x_grad"] = x_probe.grad.numpy().copy()
    block.zero_grad()

    # The notebooks' optimizer and schedule, as written there.
    named = list(block.named_parameters())
    decayed = [p for n, p in named if (p.ndimension() == 4 or "conv" in n) and "L_alpha" not in n]
    others = [p for _, p in named if all(p is not q for q in decayed)]
    optimizer = torch.optim.Adam(
        [
            {"params": others, "weight_decay": 0.0, "initial_lr": LEARNING_RATE},
            {"params": decayed, "weight_decay": weight_decay, "initial_lr": LEARNING_RATE},
        ],
        lr=LEARNING_RATE,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (1.0 - step / EPOCHS), last_epoch=-1
    )
    losses = []
    for _ in range(EPOCHS):  # one batch per epoch
        loss = 0.5 * (block(x) ** 2).mean()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        adaptive_clip_grad([p for n, p in named if "fc" not in n], clip_factor=CLIP_FACTOR)
        optimizer.step()
        scheduler.step()
    out[f"{name}/loss"] = np.array(losses)
    for key, value in block.state_dict().items():
        out[f"{name}/final/{key}"] = value.detach().numpy().copy()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ab-bnn", required=True, help="a checkout of Ruichen0424/AB-BNN")
    parser.add_argument(
        "--output",
        default=os.path.join(os.path.dirname(__file__), "..", "tests", "data"),
        help="folder for the .npz files (default: tests/data)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(2023)  # the blocks' own initialisation, as in the notebooks
    sys.path.insert(0, os.path.abspath(args.ab_bnn))
    arrays: dict[str, np.ndarray] = {}
    for seed, (name, block, betas, decay) in enumerate(_cases()):
        arrays.update(_run(name, block, betas, decay, seed))
    path = os.path.join(args.output, "reference_training.npz")
    # Written to a temporary name, then renamed: never a half-written fixture.
    fd, tmp = tempfile.mkstemp(dir=args.output, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    print(f"wrote {path}: {len(arrays)} arrays, {os.path.getsize(path) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
