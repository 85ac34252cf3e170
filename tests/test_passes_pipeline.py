"""The default pipeline on real models, and the export controls (optimize, passes,
print_after_all; --no-optimize, --passes, --print-after-all)."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import deploykit
from deploykit.archive.reader import read, read_graph
from deploykit.errors import ExportError
from deploykit.passes import DEFAULT_PIPELINE, PassManager, make_passes
from deploykit.passes.base import copy_graph

from helpers import assert_close_to_torch, deploykit_cli


def test_optimized_resnet18_has_no_batch_norm_and_every_relu_fused(resnet_archives, tmp_path):
    case = resnet_archives.get("resnet18", 1)
    graph = read_graph(case.archive)
    hist = graph.op_histogram()
    assert "batch_norm" not in hist and "relu" not in hist and "hardtanh" not in hist
    assert hist == {"conv2d": 20, "max_pool2d": 1, "adaptive_avg_pool2d": 1, "flatten": 1, "linear": 1}
    # torchvision's ResNet-18 has 17 ReLUs: the stem's and two per BasicBlock (one after the add).
    fused = [n for n in graph.nodes if n.attrs.get("act_min") == 0.0 and n.attrs.get("act_max") == float("inf")]
    assert len(fused) == 17
    assert sum(1 for n in graph.nodes if len(n.inputs) == 4 and n.inputs[3] is not None) == 8
    assert read(case.archive).metadata["passes"] == list(DEFAULT_PIPELINE)

    # Same model, unoptimized: same outputs within the parity bound.
    model = resnet_archives.model("resnet18")
    plain_path = tmp_path / "plain.dkr"
    plain = deploykit.export(model, (torch.from_numpy(case.input.copy()),), plain_path, optimize=False)
    assert plain.op_histogram()["batch_norm"] == 20 and plain.op_histogram()["relu"] == 17
    assert read(plain_path).metadata["passes"] == []
    optimized_out = deploykit.load(str(case.archive), num_threads=1)(case.input)
    plain_out = deploykit.load(str(plain_path), num_threads=1)(case.input)
    assert_close_to_torch(optimized_out, plain_out, what="optimized vs unoptimized ResNet-18")
    assert_close_to_torch(optimized_out, case.expected, what="optimized ResNet-18 vs torch")


def test_default_pipeline_is_verified_on_resnet50(resnet_archives):
    from deploykit.frontend.torchscript import to_graph

    case = resnet_archives.get("resnet50", 1)
    graph, _ = to_graph(resnet_archives.model("resnet50"), (torch.from_numpy(case.input.copy()),))
    optimized = PassManager(make_passes(DEFAULT_PIPELINE), verify=True).run(copy_graph(graph))
    assert "batch_norm" not in optimized.op_histogram() and "relu" not in optimized.op_histogram()
    assert optimized.op_histogram() == read_graph(case.archive).op_histogram()


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


def make_small():
    torch.manual_seed(0)
    model = Small().eval()
    with torch.no_grad():
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    return model


def test_export_keyword_arguments(tmp_path):
    x = torch.randn(1, 3, 6, 6)
    full = deploykit.export(make_small(), x, tmp_path / "a.dkr")
    assert [n.op for n in full.nodes] == ["conv2d"]
    plain = deploykit.export(make_small(), x, tmp_path / "b.dkr", optimize=False)
    assert [n.op for n in plain.nodes] == ["conv2d", "batch_norm", "relu"]
    some = deploykit.export(make_small(), x, tmp_path / "c.dkr", passes=["fold_batchnorm", "dce"])
    assert [n.op for n in some.nodes] == ["conv2d", "relu"]
    assert read(tmp_path / "c.dkr").metadata["passes"] == ["fold_batchnorm", "dce"]
    printed = []
    deploykit.export(make_small(), x, tmp_path / "d.dkr", passes="fold_batchnorm,fuse_activation",
                     print_after_all=True, printer=printed.append)
    assert [p.splitlines()[0] for p in printed] == ["// after fold_batchnorm", "// after fuse_activation"]
    expected = make_small()(x).detach().numpy()
    for name in "abcd":
        assert_close_to_torch(deploykit.load(str(tmp_path / f"{name}.dkr"))(x), expected, what=name)
    with pytest.raises(ExportError, match="unknown pass 'nope'"):
        deploykit.export(make_small(), x, tmp_path / "e.dkr", passes=["nope"])
    with pytest.raises(ExportError, match="cannot be combined with optimize=False"):
        deploykit.export(make_small(), x, tmp_path / "e.dkr", optimize=False, passes=["dce"])
    assert not (tmp_path / "e.dkr").exists()


def test_cli_export_controls(tmp_path):
    torch.jit.trace(make_small(), torch.randn(1, 3, 6, 6)).save(str(tmp_path / "small.pt"))
    base = ["export", tmp_path / "small.pt", "--input-shape", "1,3,6,6", "-o"]
    r = deploykit_cli(base + [tmp_path / "plain.dkr", "--no-optimize"])
    assert r.returncode == 0, r.stderr
    assert [n.op for n in read_graph(tmp_path / "plain.dkr").nodes] == ["conv2d", "batch_norm", "relu"]
    r = deploykit_cli(base + [tmp_path / "some.dkr", "--passes", "fold_batchnorm,dce", "--print-after-all"])
    assert r.returncode == 0, r.stderr
    assert "// after fold_batchnorm\ngraph main(" in r.stdout and "// after dce" in r.stdout
    assert [n.op for n in read_graph(tmp_path / "some.dkr").nodes] == ["conv2d", "relu"]
    r = deploykit_cli(base + [tmp_path / "full.dkr"])
    assert r.returncode == 0, r.stderr
    assert [n.op for n in read_graph(tmp_path / "full.dkr").nodes] == ["conv2d"]
    r = deploykit_cli(base + [tmp_path / "bad.dkr", "--passes", "dce,typo"])
    assert r.returncode == 2 and "deploykit: error: unknown pass 'typo'" in r.stderr
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32)
    outs = [deploykit.load(str(tmp_path / f"{n}.dkr"))(x) for n in ("plain", "some", "full")]
    assert_close_to_torch(outs[1], outs[0])
    assert_close_to_torch(outs[2], outs[0])


def test_mobilenet_v2_relu6_and_residuals_fused(tmp_path):
    from deploykit.models.mobilenet_v2 import random_mobilenet_v2
    from deploykit.views import format_code, format_stats

    model = random_mobilenet_v2(0).eval()
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(3))
    optimized = deploykit.export(model, x, tmp_path / "opt.dkr")
    plain = deploykit.export(model, x, tmp_path / "plain.dkr", optimize=False)
    assert plain.op_histogram()["hardtanh"] == 35 and plain.op_histogram()["add"] == 10
    assert optimized.op_histogram() == {"conv2d": 52, "adaptive_avg_pool2d": 1, "flatten": 1, "linear": 1}
    assert sum(1 for n in optimized.nodes if n.attrs.get("act_max") == 6.0) == 35
    assert sum(1 for n in optimized.nodes if len(n.inputs) == 4 and n.inputs[3] is not None) == 10
    a = deploykit.load(str(tmp_path / "opt.dkr"))(x)
    assert_close_to_torch(a, deploykit.load(str(tmp_path / "plain.dkr"))(x), what="optimized vs unoptimized")
    assert_close_to_torch(a, model(x).detach(), what="optimized vs torch")
    assert "clamp(conv2d(" in format_code(optimized) and "op histogram:" in format_stats(optimized)
