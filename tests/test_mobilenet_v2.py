"""MobileNetV2 (deploykit.models.mobilenet_v2, torchvision's definition) end to end.

The architecture is checked against torchvision's published facts (3,504,872
parameters; the module names state_dicts use; 17 inverted residual blocks, 10 of
them with a residual add), then exported and run at 1 and 2 threads within the
parity bound: it exercises depthwise convolutions, ReLU6 and un-activated residuals.
"""

import pytest
import torch
from torch import nn

import deploykit
from deploykit.models.mobilenet_v2 import InvertedResidual, _make_divisible, random_mobilenet_v2
from helpers import assert_close_to_torch


@pytest.fixture(scope="module")
def mobilenet():
    return random_mobilenet_v2(seed=0)


def test_architecture_matches_torchvision(mobilenet):
    assert sum(p.numel() for p in mobilenet.parameters()) == 3_504_872
    names = dict(mobilenet.named_modules())
    for name in ("features.0.0", "features.1.conv.0.0", "features.1.conv.1", "features.2.conv.1.0",
                 "features.18.0", "classifier.1"):
        assert name in names, name
    blocks = [m for m in mobilenet.features if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    assert sum(b.use_res_connect for b in blocks) == 10
    depthwise = [m for m in mobilenet.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len(depthwise) == 17 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert isinstance(mobilenet.classifier[0], nn.Dropout) and mobilenet.classifier[0].p == 0.2
    assert [_make_divisible(v, 8) for v in (32 * 0.75, 16 * 0.35, 1280.0)] == [24, 8, 1280]


@pytest.fixture(scope="module")
def exported(mobilenet, tmp_path_factory):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    path = tmp_path_factory.mktemp("mobilenet") / "mobilenet_v2.dkr"
    deploykit.export(mobilenet, (x,), str(path))
    with torch.no_grad():
        expected = mobilenet(x)
    return path, x, expected


@pytest.mark.parametrize("threads", [1, 2])
def test_exported_mobilenet_matches_torch(exported, threads):
    path, x, expected = exported
    assert_close_to_torch(deploykit.load(path, num_threads=threads)(x), expected, "MobileNetV2 logits")
