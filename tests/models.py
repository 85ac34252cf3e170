"""Models the tests export: ResNet-18/34/50 as torchvision defines them, and small nets.

The ResNets are the package's own (python/deploykit/models/resnet.py, which reproduces
torchvision.models.resnet: same module names, in-place `out += identity` and
`ReLU(inplace=True)`, same init), so the demo and the tests export the same graphs.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from deploykit.models.resnet import ResNet, randomize_batch_norm, resnet18, resnet34, resnet50

RESNET_FACTORIES = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Seeded random BatchNorm statistics and affine parameters, in place (fresh BN layers
    are identities at inference, so a runtime that ignored BN would still match torch)."""
    return randomize_batch_norm(model, torch.Generator().manual_seed(seed))


def make_resnet(arch: str, seed: int = 0) -> ResNet:
    """A ResNet with seeded random weights and randomized BatchNorm, in eval mode."""
    torch.manual_seed(seed)
    model = RESNET_FACTORIES[arch]()
    randomize_batchnorm(model, seed=seed + 1)
    return model.eval()


# --- small models for targeted tests ------------------------------------------


class TinyConvNet(nn.Module):
    """conv(bias) -> relu -> maxpool -> flatten -> linear, for 1x3x8x8 inputs.

    No BatchNorm, so the archive's constants are exactly the module's parameters
    (3*4*3*3 + 4 + 64*5 + 5 = 437 values), which lets tests check parameter counts
    and weight bytes without knowing what the exporter's passes fold.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv(x))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class TinyBNNet(nn.Module):
    """conv -> batchnorm -> relu -> adaptive avgpool -> linear: a miniature ResNet stem."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class TwoInputTwoOutput(nn.Module):
    """Two inputs, two outputs: checks that Module(*inputs) maps positions and returns a tuple."""

    def forward(self, a: Tensor, b: Tensor):
        return torch.sigmoid(a) * b, torch.cat([a, b], dim=1)


def make_tiny_conv_net(seed: int = 0) -> TinyConvNet:
    torch.manual_seed(seed)
    return TinyConvNet().eval()


def make_tiny_bn_net(seed: int = 0) -> TinyBNNet:
    torch.manual_seed(seed)
    return randomize_batchnorm(TinyBNNet(), seed=seed + 1).eval()
