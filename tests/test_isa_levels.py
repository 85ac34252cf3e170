"""Parity at every kernel ISA level: the conv/linear/add/max_pool2d op grids, the optimized kernels'
shape classes (test_kernel_parity.py: depthwise, GEMV), ResNet-18/50 and MobileNetV2 logits
re-run in subprocesses with DEPLOYRT_ISA=scalar, avx2 and avx512 (the ISA is read once per
process, so each level needs its own process). A level the host cannot run is skipped,
after checking which level the runtime actually picked, and so is the level this suite itself
runs at (the host's best when DEPLOYRT_ISA is unset): the same tests already ran there.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import deploykit

TESTS = Path(__file__).resolve().parent
SUBSET = [
    str(TESTS / "test_ops_parity.py") + "::test_conv2d",
    str(TESTS / "test_ops_parity.py") + "::test_conv2d_with_batchnorm_and_relu",
    str(TESTS / "test_ops_parity.py") + "::test_linear",
    str(TESTS / "test_ops_parity.py") + "::test_add",
    str(TESTS / "test_ops_parity.py") + "::test_max_pool2d",
    str(TESTS / "test_ops_parity.py") + "::test_nan_and_inf_propagate_like_torch",
    str(TESTS / "test_kernel_parity.py"),
    str(TESTS / "test_mobilenet_v2.py") + "::test_exported_mobilenet_matches_torch[1]",
    str(TESTS / "test_resnet_e2e.py") + "::test_resnet_logits_match_torch[resnet18-batch1]",
    str(TESTS / "test_resnet_e2e.py") + "::test_resnet_logits_match_torch[resnet50-batch1]",
]

# Exports a one-conv model and prints the ISA level the loaded module chose its kernels for.
PROBE = """
import sys, torch, deploykit
path = sys.argv[1]
deploykit.export(torch.nn.Conv2d(3, 8, 3), torch.zeros(1, 3, 8, 8), path)
print(deploykit.load(path)._native.isa)
"""


def _env(isa):
    env = dict(os.environ)
    env["DEPLOYRT_ISA"] = isa
    return env


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_parity_at_isa_level(isa, tmp_path):
    probe = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "probe.dkr")], env=_env(isa),
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    chosen = probe.stdout.strip().splitlines()[-1]
    if chosen != isa:
        pytest.skip(f"this host cannot run {isa} kernels (the runtime chose {chosen})")
    here = tmp_path / "here.dkr"
    deploykit.export(torch.nn.Conv2d(3, 8, 3), torch.zeros(1, 3, 8, 8), here)
    if deploykit.load(here)._native.isa == isa:
        pytest.skip(f"this suite runs at {isa} itself: the subset already passed at this level")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
                         env=_env(isa), cwd=TESTS.parent, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"DEPLOYRT_ISA={isa}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert " passed" in run.stdout and " skipped" not in run.stdout, run.stdout[-2000:]
