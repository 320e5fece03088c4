"""Write float64 fixtures from the authors' own PyTorch code, for tests that run without it.

    pip install torch torchvision            # not a dependency of larq-abbnn
    git clone https://github.com/Ruichen0424/AB-BNN /tmp/AB-BNN
    git clone https://github.com/VITA-Group/BNN_NoBN /tmp/BNN_NoBN
    python tools/make_reference_fixtures.py --ab-bnn /tmp/AB-BNN --bnn-nobn /tmp/BNN_NoBN

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

`tests/data/reference_blocks.npz` holds the forward pass and input gradient (same loss) of
every block type of both repositories (A&B ReActNet-18 at stride 1 and 2, Bi-ResNet,
XNOR-Net, ReActNet-A at stride 1 and 2, BN-Free ReActNet-18 and ReActNet-A), the stems
(ResNet CIFAR and ImageNet, Bi-ResNet/XNOR-Net's with PReLU, ReActNet-A's at stride 1
and 2) and the head, with random trained-looking weights: `C/x`, `C/out`, `C/x_grad`,
`C/weights/KEY`, plus the block's `C/betas` and `C/alpha`. Stems and head are their
modules composed as the networks' `forward` does, under the networks' attribute names.
BN cases (`bn_...`, BNN_NoBN's `_bn` models) use the loss `mean(y * C/loss_weights)`
instead, and run in training mode (`C/after/KEY`: the running statistics after that batch)
and, as `..._eval`, with their running statistics.
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
        optimizer, lambda step: 1.0 - step / EPOCHS, last_epoch=-1
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


def _randomize(module, seed):
    """Trained-looking values for every parameter (a fresh init has zero biases)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            u = torch.rand(p.shape, generator=generator, dtype=p.dtype)
            n = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            if name.endswith("gain"):
                p.copy_(0.5 + u)
            elif name.endswith("L_alpha"):
                p.copy_(-6 + 7.4 * u)
            elif "prelu" in name:  # nn.PReLU slopes
                p.copy_(0.5 * u)
            elif "bn" in name and name.endswith("weight"):  # BatchNorm's gamma
                p.copy_(0.5 + u)
            elif name.endswith("bias"):
                p.copy_(0.1 * n)
            else:
                p.copy_(0.05 * n)
        for name, buffer in module.named_buffers():  # BatchNorm's running statistics
            if not buffer.is_floating_point():  # num_batches_tracked
                continue
            u = torch.rand(buffer.shape, generator=generator, dtype=buffer.dtype)
            if name.endswith("running_mean"):
                buffer.copy_(0.2 * (u - 0.5))
            elif name.endswith("running_var"):
                buffer.copy_(0.5 + u)


def _bn_cases():
    """BN baselines (BNN_NoBN's `_bn` models, step 2): blocks and stems, each in training
    mode (batch statistics) and in inference mode (running statistics: `_eval` cases)."""
    import models.Qaw_reactnet_18_bn as bn18
    import models.Qaw_reactnet_A_bn as bna
    import torch.nn as nn

    class Stem(nn.Module):  # the first lines of their BiRealNet.forward
        def __init__(self, imagenet):
            super().__init__()
            if imagenet:
                self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
                self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            else:
                self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
                self.maxpool = nn.Identity()
            self.bn1 = nn.BatchNorm2d(8)

        def forward(self, x):
            return self.maxpool(self.bn1(self.conv1(x)))

    class FirstConv(nn.Module):  # their reactnet's feature[0]
        def __init__(self):
            super().__init__()
            self.feature = nn.ModuleList([bna.firstconv3x3(3, 4, 2)])

        def forward(self, x):
            return self.feature[0](x)

    def downsample():
        return nn.Sequential(nn.AvgPool2d(2, 2), bn18.binaryconv1x1(8, 16), nn.BatchNorm2d(16))

    cases = []
    for mode in ("", "_eval"):
        cases += [
            (f"bn_reactnet18_s1{mode}", bn18.BasicBlock(8, 8), (2, 8, 8, 8), (), 0.0),
            (f"bn_reactnet18_s2{mode}", bn18.BasicBlock(8, 16, 2, downsample()), (2, 8, 8, 8), (), 0.0),
            (f"bn_reactneta_s1{mode}", bna.BasicBlock(8, 8, 1), (2, 8, 8, 8), (), 0.0),
            (f"bn_reactneta_s2{mode}", bna.BasicBlock(8, 16, 2), (2, 8, 8, 8), (), 0.0),
            (f"bn_stem_resnet_cifar{mode}", Stem(False), (2, 3, 8, 8), (), 0.0),
            (f"bn_stem_resnet_imagenet{mode}", Stem(True), (2, 3, 12, 12), (), 0.0),
            (f"bn_stem_reactneta_imagenet{mode}", FirstConv(), (2, 3, 12, 12), (), 0.0),
        ]  # fmt: skip
    return cases


def _block_cases(nobn: bool):
    """(name, module, input NCHW shape, betas, alpha) per block, stem and head."""
    import torch.nn as nn
    from Network import BiResNet_18_Qaw, ReActNet_18_Qaw, ReActNet_A_Qaw, XnorNet_18_Qaw
    from Network.BNN import ScaledStdConv2d

    b1, b2 = 1.0 / (1.0 + 2 * ALPHA**2) ** 0.5, 1.0 / (1.0 + 3 * ALPHA**2) ** 0.5
    r18 = ReActNet_18_Qaw
    cases = [
        ("ab_reactnet18_s1", r18.BasicBlock(8, 8, ALPHA, b1), (1, 8, 8, 8), (b1,), ALPHA),
        (
            "ab_reactnet18_s2",
            r18.BasicBlock(8, 16, ALPHA, b1, 2, nn.Sequential(nn.AvgPool2d(2, 2), r18.Bconv1x1(8, 16))),
            (1, 8, 8, 8), (b1,), ALPHA,
        ),
        (
            "ab_biresnet18_s2",
            BiResNet_18_Qaw.BasicBlock(
                8, 16, ALPHA, b1, 2,
                nn.Sequential(nn.AvgPool2d(2, 2), BiResNet_18_Qaw.conv1x1(8, 16)),
            ),
            (1, 8, 8, 8), (b1,), ALPHA,
        ),
        (
            "ab_xnornet18_s2",
            XnorNet_18_Qaw.BasicBlock(
                8, 16, ALPHA, b1, 2, nn.Sequential(XnorNet_18_Qaw.Bconv1x1(8, 16, stride=2))
            ),
            (1, 8, 8, 8), (b1,), ALPHA,
        ),
        ("ab_reactneta_s1", ReActNet_A_Qaw.BasicBlock(8, 8, ALPHA, b1, b2, 1), (1, 8, 8, 8), (b1, b2), ALPHA),
        ("ab_reactneta_s2", ReActNet_A_Qaw.BasicBlock(8, 16, ALPHA, b1, b2, 2), (1, 8, 8, 8), (b1, b2), ALPHA),
    ]  # fmt: skip

    class Stem(nn.Module):  # the first lines of their ResNet.forward
        def __init__(self, imagenet, prelu):
            super().__init__()
            if imagenet:
                self.conv1 = ScaledStdConv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
                self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            else:
                self.conv1 = ScaledStdConv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
                self.maxpool = nn.Identity()
            self.prelu1 = nn.PReLU(8) if prelu else nn.Identity()

        def forward(self, x):
            return self.maxpool(self.prelu1(self.conv1(x)))

    class FirstConv(nn.Module):  # ReActNet-A's feature[0]
        def __init__(self, stride):
            super().__init__()
            self.feature = nn.ModuleList([ReActNet_A_Qaw.firstconv3x3(3, 4, stride)])

        def forward(self, x):
            return self.feature[0](x)

    class Head(nn.Module):  # the last lines of their forward
        def __init__(self):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            return self.fc(self.avgpool(x).view(x.size(0), -1))

    cases += [
        ("stem_resnet_cifar", Stem(False, False), (1, 3, 8, 8), (), 0.0),
        ("stem_resnet_imagenet", Stem(True, False), (1, 3, 12, 12), (), 0.0),
        ("stem_biresnet_imagenet", Stem(True, True), (1, 3, 12, 12), (), 0.0),
        ("stem_reactneta_cifar", FirstConv(1), (1, 3, 8, 8), (), 0.0),
        ("stem_reactneta_imagenet", FirstConv(2), (1, 3, 12, 12), (), 0.0),
        ("head", Head(), (2, 16, 4, 4), (), 0.0),
    ]
    if nobn:
        import models.Qaw_reactnet_18_bf as bf18
        import models.Qaw_reactnet_A_bf as bfa

        c1, c2 = 1.0 / (1.0 + 2 * 0.2**2) ** 0.5, 1.0 / (1.0 + 3 * 0.2**2) ** 0.5
        cases += [
            (
                "bnfree_reactnet18_s2",
                bf18.BasicBlock(
                    8, 16, 0.2, c1, 2, nn.Sequential(nn.AvgPool2d(2, 2), bf18.binaryconv1x1(8, 16))
                ),
                (1, 8, 8, 8), (c1,), 0.2,
            ),
            ("bnfree_reactneta_s2", bfa.BasicBlock(8, 16, 0.2, c1, c2, 2), (1, 8, 8, 8), (c1, c2), 0.2),
        ]  # fmt: skip
        cases += _bn_cases()  # last: the cases above keep their seeds
    return cases


def _forward_case(name, module, shape, betas, alpha, seed):
    import torch

    module = module.double()
    _randomize(module, seed)
    if name.endswith("_eval"):
        module.eval()  # BatchNorm with its running statistics
    out = {f"{name}/betas": np.array(betas), f"{name}/alpha": np.array(alpha)}
    for key, value in module.state_dict().items():
        out[f"{name}/weights/{key}"] = value.detach().numpy().copy()
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    x.requires_grad_(True)
    y = module(x)
    if name.startswith("bn_"):
        # mean(y**2) / 2 of a batch-normalized output hardly depends on the input (its
        # gradient is cancellation noise): weigh the outputs with fixed random numbers.
        weights = torch.randn(
            y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
        )
        out[f"{name}/loss_weights"] = weights.numpy().copy()
        (y * weights).mean().backward()
        for key, value in module.state_dict().items():  # running statistics after the batch
            if "running_" in key:
                out[f"{name}/after/{key}"] = value.detach().numpy().copy()
    else:
        (0.5 * (y**2).mean()).backward()
    out[f"{name}/x"] = x.detach().numpy().copy()
    out[f"{name}/out"] = y.detach().numpy().copy()
    out[f"{name}/x_grad"] = x.grad.numpy().copy()
    return out


#: A&B zoo name -> (the authors' `Network` module, without its _Qa/_Qaw step suffix,
#: and the function building the network from it)
_AB_NETWORKS = {
    "ab_reactnet18": ("ReActNet_18", "ResNet18"),
    "ab_reactnet34": ("ReActNet_18", "ResNet34"),
    "ab_reactneta": ("ReActNet_A", "Reactnet"),
    "ab_biresnet18": ("BiResNet_18", "ResNet18"),
    "ab_xnornet18": ("XnorNet_18", "ResNet18"),
}
#: BN-Free zoo name -> (BNN_NoBN module, function): released as ImageNet step-2 models only
_BNFREE_NETWORKS = {
    "bnfree_reactnet18": ("models.Qaw_reactnet_18_bf", "birealnet18"),
    "bnfree_reactneta": ("models.Qaw_reactnet_A_bf", "reactnet"),
}
#: BN zoo name -> (BNN_NoBN module without its Qa_/Qaw_ step prefix, function, whether it
#: takes `imagenet=`): the paper's BN column, both steps
_BN_NETWORKS = {
    "bn_reactnet18": ("reactnet_18_bn", "birealnet18", True),
    "bn_reactneta": ("reactnet_A_bn", "reactnet", False),
}
_DATASETS = {"cifar10": (10, False), "cifar100": (100, False), "imagenet": (1000, True)}
_BLOCK_CONSTANTS = ("alpha", "beta", "beta1", "beta2", "stride", "inplanes", "planes")


def _listings() -> tuple[dict, dict]:
    """Every released configuration's state-dict keys, shapes and trainable parameter
    count, and every block's constants, read from the authors' networks."""
    import importlib

    def configurations():
        """(name, step, dataset, network) of every released configuration."""
        for name, (module, function) in _AB_NETWORKS.items():
            for step, suffix in ((1, "Qa"), (2, "Qaw")):
                build = getattr(importlib.import_module(f"Network.{module}_{suffix}"), function)
                for dataset, (classes, imagenet) in _DATASETS.items():
                    yield name, step, dataset, build(num_classes=classes, imagenet=imagenet)
        for name, (module, function) in _BNFREE_NETWORKS.items():
            build = getattr(importlib.import_module(module), function)
            yield name, 2, "imagenet", build(num_classes=_DATASETS["imagenet"][0])
        for name, (module, function, stems) in _BN_NETWORKS.items():
            for step, prefix in ((1, "Qa"), (2, "Qaw")):
                build = getattr(importlib.import_module(f"models.{prefix}_{module}"), function)
                for dataset, (classes, imagenet) in _DATASETS.items():
                    stem = {"imagenet": imagenet} if stems else {}
                    yield name, step, dataset, build(num_classes=classes, **stem)

    state_dicts: dict = {}
    blocks: dict = {}
    for name, step, dataset, network in configurations():
        state_dicts.setdefault(name, {}).setdefault(f"step{step}", {})[dataset] = {
            "trainable_params": sum(p.numel() for p in network.parameters() if p.requires_grad),
            "state_dict": {k: list(v.shape) for k, v in network.state_dict().items()},
        }
        if step == 2 and dataset == "imagenet":
            blocks[name] = [
                {"module": path, **_constants(block)}
                for path, block in network.named_modules()
                if type(block).__name__ == "BasicBlock"
            ]
    return state_dicts, blocks


def _constants(block) -> dict:
    out = {}
    for key in _BLOCK_CONSTANTS:
        value = getattr(block, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value
    return out


def _write_json(value, path: str) -> None:
    import json

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".json.tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"wrote {path}: {os.path.getsize(path) / 1024:.0f} KB")


def _write(arrays: dict, path: str) -> None:
    # Written to a temporary name, then renamed: never a half-written fixture.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    print(f"wrote {path}: {len(arrays)} arrays, {os.path.getsize(path) / 1024:.0f} KB")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ab-bnn", required=True, help="a checkout of Ruichen0424/AB-BNN")
    parser.add_argument("--bnn-nobn", required=True, help="a checkout of VITA-Group/BNN_NoBN")
    parser.add_argument(
        "--output",
        default=os.path.join(os.path.dirname(__file__), "..", "tests", "data"),
        help="folder for the .npz files (default: tests/data)",
    )
    parser.add_argument(
        "--only",
        choices=["training", "blocks", "listings"],
        help="write one of the fixture files (default: all of them)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(2023)  # the blocks' own initialisation, as in the notebooks
    sys.path.insert(0, os.path.abspath(args.ab_bnn))
    sys.path.insert(1, os.path.abspath(args.bnn_nobn))  # its `layers` and `models`
    if args.only in (None, "training"):
        arrays: dict[str, np.ndarray] = {}
        for seed, (name, block, betas, decay) in enumerate(_cases()):
            arrays.update(_run(name, block, betas, decay, seed))
        _write(arrays, os.path.join(args.output, "reference_training.npz"))
    if args.only in (None, "blocks"):
        blocks: dict[str, np.ndarray] = {}
        for seed, case in enumerate(_block_cases(nobn=True)):
            blocks.update(_forward_case(*case, seed=seed))
        _write(blocks, os.path.join(args.output, "reference_blocks.npz"))
    if args.only in (None, "listings"):
        state_dicts, constants = _listings()
        _write_json(state_dicts, os.path.join(args.output, "reference_state_dicts.json"))
        _write_json(constants, os.path.join(args.output, "reference_blocks.json"))


if __name__ == "__main__":
    main()
