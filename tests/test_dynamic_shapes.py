"""Dynamic shapes: export once with symbolic dims, run any shape the model can take.

ResNet-18 (random weights, randomized BN) exported with dynamic batch and spatial size
matches PyTorch at batch 1, 3, 8 and sizes 224, 160, 97, from Python and from deployrt-run;
alternating shapes keep resident memory flat; shapes the model cannot take are rejected
with a clear error; the archive stores the symbols as docs/archive-format.md says (1.2).
"""

import subprocess

import numpy as np
import pytest
import torch
import torch.nn as nn

import deploykit
from deploykit.archive.reader import read_graph
from deploykit.dynamic import parse_dynamic_spec
from dkr_archive import read_archive
from helpers import assert_close_to_torch, deploykit_cli, subprocess_env, torch_reference
from models import make_resnet

DYNAMIC = {"x": {0: "N", 2: "H", 3: "W"}}
# Each batch and each size at least once (8 x 224 is the slow one, left out).
SHAPES = [(1, 224), (3, 160), (8, 97), (1, 97), (3, 224)]


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    model = make_resnet("resnet18")
    path = tmp_path_factory.mktemp("dynamic") / "resnet18_dynamic.dkr"
    graph = deploykit.export(model, (torch.randn(1, 3, 224, 224),), path, dynamic_dims=DYNAMIC)
    return model, path, graph


def _input(n, size, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed + 31 * n + size))


def test_archive_keeps_the_symbols(resnet):
    _, path, graph = resnet
    archive = read_archive(path.read_bytes())
    assert archive.header.version_minor == 2
    strings = archive.strings()
    values = {strings[v.name]: v for v in archive.values()}
    x = values[graph.inputs[0].name]
    assert x.flags == 1 and x.symbolic_dims(strings) == ["N", 3, "H", "W"]
    logits = values[graph.outputs[0].name]
    assert logits.symbolic_dims(strings) == ["N", 1000]
    # Spatial dims after the stem depend on H without being H: dynamic, unnamed.
    assert any("" in v.symbolic_dims(strings) for v in archive.values() if v.flags)
    assert all(v.flags == 0 for v in archive.values() if v.kind == 2)  # constants stay fixed
    assert archive.metadata()["symbols"] == {"N": 1, "H": 224, "W": 224}
    # The IR printer shows the symbols, and reading the archive back gives them again.
    assert "%x : f32[N,3,H,W]" in str(graph)
    assert "f32[N,1000]" in str(graph)
    back = read_graph(path)
    assert back.inputs[0].type_str() == "f32[N,3,H,W]"
    assert back.inputs[0].shape == (1, 3, 224, 224)


def test_runtime_reports_symbolic_inputs(resnet):
    _, path, _ = resnet
    m = deploykit.load(str(path))
    assert m.inputs == [("x", "f32", (-1, 3, -1, -1))]
    assert m.input_dim_names == [["N", "", "H", "W"]]
    assert m.outputs[0][2] == (-1, 1000)


@pytest.mark.parametrize("n,size", SHAPES, ids=[f"batch{n}-{s}" for n, s in SHAPES])
def test_resnet18_matches_torch_at_each_shape(resnet, n, size):
    model, path, _ = resnet
    m = deploykit.load(str(path), num_threads=2)
    x = _input(n, size)
    got = m(x)
    assert got.shape == (n, 1000)
    assert_close_to_torch(got, torch_reference(model, (x,)), what=f"batch {n} size {size}")


def test_one_module_alternates_shapes(resnet):
    """One loaded module, shapes changing call to call (specializations cached and reused)."""
    model, path, _ = resnet
    m = deploykit.load(str(path), num_threads=2)
    for n, size in [(1, 160), (3, 97), (1, 160), (3, 97)]:
        x = _input(n, size, seed=5)
        assert_close_to_torch(m(x), torch_reference(model, (x,)), what=f"batch {n} size {size}")


def test_deployrt_run_takes_any_allowed_shape(resnet, deployrt_run, tmp_path):
    model, path, _ = resnet
    for n, size in [(3, 97), (1, 160)]:
        x = _input(n, size, seed=9)
        np.save(tmp_path / "x.npy", x.numpy())
        proc = subprocess.run([str(deployrt_run), str(path), "--input", str(tmp_path / "x.npy"), "--output",
                               str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert_close_to_torch(np.load(tmp_path / "y.npy"), torch_reference(model, (x,)),
                              what=f"deployrt-run batch {n} size {size}")


@pytest.mark.parametrize("shape,parts", [
    ((1, 3, 224), ["input 0 'x'", "f32[N,3,H,W]", "f32[1,3,224]"]),          # wrong rank
    ((1, 4, 64, 64), ["input 0 'x'", "dim 1 is 4", "needs 3"]),              # 4 channels, not 3
    # ResNet pads every window, so any size >= 1 fits; an empty image does not.
    ((1, 3, 0, 32), ["cannot take", "f32[1,3,0,32]", "conv2d"]),
], ids=["rank", "channels", "empty"])
def test_shapes_the_model_cannot_take_are_rejected(resnet, shape, parts):
    _, path, _ = resnet
    m = deploykit.load(str(path))
    with pytest.raises(deploykit.InputError) as info:
        m(np.zeros(shape, np.float32))
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {info.value}"
    assert m(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 1000)  # still usable


def _resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_alternating_shapes_keep_resident_memory_flat(tmp_path):
    """1000 calls over three shapes (more than the 4 cached specializations would need for
    two, fewer than would evict): after warm-up, RSS must not grow. Small inputs, so it takes
    seconds; the tolerance absorbs allocator noise, not a per-call leak (1000 leaked
    activations of even the smallest shape would exceed it)."""
    model = make_resnet("resnet18")
    path = tmp_path / "r18.dkr"
    deploykit.export(model, (torch.randn(1, 3, 64, 64),), path, dynamic_dims=DYNAMIC)
    m = deploykit.load(str(path), num_threads=1)
    shapes = [(1, 3, 40, 40), (2, 3, 33, 48), (1, 3, 56, 36), (3, 3, 33, 33), (1, 3, 64, 64)]
    inputs = [np.random.default_rng(k).standard_normal(s).astype(np.float32) for k, s in enumerate(shapes)]
    for _ in range(3):  # warm-up: every specialization built, evicted and rebuilt, arenas at their largest
        for x in inputs:
            m(x)
    before = _resident_bytes()
    for i in range(1000):
        m(inputs[i % len(inputs)])
    after = _resident_bytes()
    print(f"RSS after warm-up {before / 2**20:.1f} MiB, after 1000 alternating calls {after / 2**20:.1f} MiB")
    assert after - before < 8 * 2**20, f"resident memory grew by {(after - before) / 2**20:.1f} MiB"


def test_spatial_size_too_small_for_a_pooling_window(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    path = tmp_path / "pool.dkr"
    deploykit.export(net, (torch.randn(1, 3, 10, 10),), path, dynamic_dims={0: {0: "N", 2: "H", 3: "W"}})
    m = deploykit.load(str(path))
    x = torch.randn(2, 3, 13, 9)
    assert_close_to_torch(m(x), torch_reference(net, (x,)), what="pool net 13x9")
    with pytest.raises(deploykit.InputError, match=r"cannot take input 0 'input' f32\[1,3,5,5\].*max_pool2d"):
        m(np.zeros((1, 3, 5, 5), np.float32))  # 3x3 after the conv: a 4x4 window does not fit


class _ViewNet(nn.Module):
    """x.view(x.size(0), -1): tracing at batch 1 bakes reshape(shape=[1, 8*4*4])."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(y.view(y.size(0), -1))


def test_reshape_with_baked_batch_is_rewritten(tmp_path):
    torch.manual_seed(0)
    model = _ViewNet().eval()
    path = tmp_path / "view.dkr"
    graph = deploykit.export(model, (torch.randn(1, 3, 4, 4),), path, dynamic_dims={"x": {0: "N"}})
    reshapes = [node for node in graph.nodes if node.op == "reshape"]
    assert [node.attrs["shape"] for node in reshapes] == [[-1, 128]]
    m = deploykit.load(str(path))
    for n in (1, 2, 5):
        x = torch.randn(n, 3, 4, 4)
        assert_close_to_torch(m(x), torch_reference(model, (x,)), what=f"view net batch {n}")


def test_dims_the_model_cannot_vary_are_reported_with_the_source_line(tmp_path):
    """The linear after view(N, -1) takes 8*4*4 features: H cannot vary. Reported at export."""
    model = _ViewNet().eval()
    with pytest.raises(deploykit.ExportError) as info:
        deploykit.export(model, (torch.randn(1, 3, 4, 4),), tmp_path / "bad.dkr",
                         dynamic_dims={"x": {0: "N", 2: "H"}})
    message = str(info.value)
    assert "test_dynamic_shapes.py" in message and "cannot take other sizes" in message, message
    assert not (tmp_path / "bad.dkr").exists()


def test_bad_dynamic_dims_are_reported(tmp_path):
    model = _ViewNet().eval()
    x = torch.randn(1, 3, 4, 4)
    for spec, part in [({"y": {0: "N"}}, "names input 'y'"), ({"x": {7: "N"}}, "dim 7 is out of range"),
                       ({"x": {0: ""}}, "non-empty name")]:
        with pytest.raises(deploykit.ExportError, match=part):
            deploykit.export(model, (x,), tmp_path / "bad.dkr", dynamic_dims=spec)


def test_cli_dynamic_flag(tmp_path):
    assert parse_dynamic_spec(["x:0=N,2=H,3=W"]) == DYNAMIC
    with pytest.raises(deploykit.ExportError, match="DIM=SYMBOL"):
        parse_dynamic_spec(["x:0"])
    source = tmp_path / "viewnet.py"
    source.write_text(
        "import torch, torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.conv = nn.Conv2d(3, 4, 3, padding=1)\n"
        "    def forward(self, x):\n"
        "        return torch.relu(self.conv(x)).mean((2, 3))\n"
        "def make():\n"
        "    torch.manual_seed(0); return Net().eval()\n")
    out = tmp_path / "cli.dkr"
    proc = deploykit_cli(["export", "viewnet:make", "--input-shape", "1,3,8,8", "--dynamic", "x:0=N,2=H,3=W",
                          "-o", out], cwd=tmp_path, extra_pythonpath=[tmp_path])
    assert proc.returncode == 0, proc.stderr
    m = deploykit.load(str(out))
    assert m.input_dim_names == [["N", "", "H", "W"]]
    assert m(np.ones((2, 3, 5, 9), np.float32)).shape == (2, 4)
