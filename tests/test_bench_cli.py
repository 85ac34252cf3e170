"""`deploykit bench` and Module.profile: output structure, and profile FLOPs checked
against FLOPs computed here from the torch model's own layers (forward hooks record
each conv's and linear's output shape). No timing assertions: times are only checked
to be finite, non-negative and consistent with each other (totals, shares, order).
"""

import json
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

import deploykit
from helpers import deploykit_cli

INPUT_SHAPE = (1, 3, 16, 16)


class BenchNet(nn.Module):
    """Strided conv + BN + ReLU, grouped conv + ReLU6, max-pool, flatten, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(nn.functional.relu6(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


def expected_flops(model: nn.Module, x: torch.Tensor):
    """(conv FLOPs, linear FLOPs) of one forward, from each layer's weights and output shape."""
    totals = {"conv2d": 0.0, "linear": 0.0}

    def hook(module, _inputs, output):
        if isinstance(module, nn.Conv2d):
            oc, c_per_group, kh, kw = module.weight.shape
            totals["conv2d"] += 2.0 * output.numel() * c_per_group * kh * kw
        else:
            totals["linear"] += 2.0 * output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return totals


@pytest.fixture(scope="module")
def bench_archive(tmp_path_factory):
    torch.manual_seed(3)
    model = BenchNet().eval()
    with torch.no_grad():
        model.bn1.running_mean.uniform_(-0.5, 0.5)
        model.bn1.running_var.uniform_(0.5, 2.0)
    x = torch.randn(*INPUT_SHAPE)
    path = tmp_path_factory.mktemp("bench") / "net.dkr"
    deploykit.export(model, (x,), str(path))
    return path, expected_flops(model, x)


def _floats(pattern, text):
    m = re.search(pattern, text)
    assert m, f"pattern {pattern!r} not found in:\n{text}"
    return [float(g) for g in m.groups()]


def test_bench_prints_latency_percentiles(bench_archive, tmp_path):
    path, _ = bench_archive
    out_json = tmp_path / "bench.json"
    proc = deploykit_cli(["bench", path, "--threads", "2", "--runs", "7", "--warmup", "1", "--json", out_json])
    assert proc.returncode == 0, proc.stderr
    assert "2 thread(s)" in proc.stdout
    assert "inputs: x f32[1,3,16,16]" in proc.stdout
    assert "latency over 7 run(s) after 1 warm-up run(s)" in proc.stdout
    lo, p50, p90, p99, mean = _floats(r"min (\S+)  p50 (\S+)  p90 (\S+)  p99 (\S+)  mean (\S+)", proc.stdout)
    assert 0 <= lo <= p50 <= p90 <= p99 and lo <= mean
    assert "per-node profile" not in proc.stdout  # only with --profile
    report = json.loads(out_json.read_text())
    assert report["threads"] == 2 and report["runs"] == 7
    assert set(report["latency_ms"]) >= {"min", "p50", "p90", "p99", "mean", "max"}
    assert "nodes" not in report


def test_bench_profile_table_and_flops(bench_archive, tmp_path):
    path, flops = bench_archive
    out_json = tmp_path / "profile.json"
    proc = deploykit_cli(["bench", path, "--threads", "1", "--runs", "3", "--warmup", "1", "--profile",
                          "--json", out_json])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out_json.read_text())
    nodes = report["nodes"]
    assert len(nodes) == deploykit.load(path, num_threads=1).num_nodes
    for n in nodes:
        assert set(n) == {"name", "op", "milliseconds", "flops"}
        assert math.isfinite(n["milliseconds"]) and n["milliseconds"] >= 0
    # FLOPs of the runtime's nodes equal those of torch's layers, whatever passes fused.
    by_op = {}
    for n in nodes:
        by_op[n["op"]] = by_op.get(n["op"], 0.0) + n["flops"]
    assert by_op["conv2d"] == pytest.approx(flops["conv2d"], rel=1e-12)
    assert by_op["linear"] == pytest.approx(flops["linear"], rel=1e-12)
    assert by_op.get("flatten", 0.0) == 0.0
    # The per-op summary partitions the nodes: counts, times and FLOPs add up; shares sum to 1.
    ops = report["ops"]
    assert sum(k["count"] for k in ops) == len(nodes)
    assert sum(k["milliseconds"] for k in ops) == pytest.approx(sum(n["milliseconds"] for n in nodes))
    assert sum(k["flops"] for k in ops) == pytest.approx(sum(n["flops"] for n in nodes))
    assert sum(k["share"] for k in ops) == pytest.approx(1.0)
    assert [k["milliseconds"] for k in ops] == sorted((k["milliseconds"] for k in ops), reverse=True)

    # The text: a header, one row per node sorted by time, then the per-op summary and a total.
    text = proc.stdout
    table = text[text.index("per-node profile"):text.index("per-op summary")].strip().splitlines()
    assert re.match(r"\s*node\s+op\s+ms\s+GFLOP/s\s+share", table[1])
    rows = table[2:]
    assert len(rows) == len(nodes)
    times = [float(r.split()[2]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert sorted(r.split()[1] for r in rows) == sorted(n["op"] for n in nodes)
    summary = text[text.index("per-op summary"):].strip().splitlines()
    assert re.match(r"\s*op\s+count\s+ms\s+GFLOP\s+GFLOP/s\s+share", summary[1])
    total = summary[-1].split()
    assert total[0] == "total" and int(total[1]) == len(nodes)
    assert float(total[3]) == pytest.approx(sum(n["flops"] for n in nodes) / 1e9, abs=1e-3)


def test_bench_bad_arguments_are_one_line_errors(bench_archive, tmp_path):
    path, _ = bench_archive
    proc = deploykit_cli(["bench", path, "--runs", "0"])
    assert proc.returncode == 2 and "--runs must be >= 1" in proc.stderr
    proc = deploykit_cli(["bench", tmp_path / "missing.dkr"])
    assert proc.returncode == 2 and proc.stderr.startswith("deploykit: error:")


def test_module_profile_api(bench_archive):
    path, flops = bench_archive
    module = deploykit.load(path, num_threads=2)
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(np.float32)
    nodes = module.profile(x, runs=2)
    assert [n["op"] for n in nodes].count("conv2d") == 2
    assert sum(n["flops"] for n in nodes if n["op"] == "conv2d") == pytest.approx(flops["conv2d"], rel=1e-12)
    with pytest.raises(deploykit.InputError, match="runs"):
        module.profile(x, runs=0)
    with pytest.raises(deploykit.InputError, match="shape"):
        module.profile(x[:, :2], runs=1)
