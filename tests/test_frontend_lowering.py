"""Frontend lowering details: which IR each PyTorch construct becomes, and that the IR
computes what PyTorch computes.

The numerical checks run the exported IR with an independent interpreter written here on
top of torch.nn.functional (the C++ runtime is tested elsewhere), so a wrong attribute
(pads order, stride default, normalized axis, ...) shows up as a numerical mismatch.
"""

import math
import os

import numpy as np
import pytest

import torch  # noqa: E402  (a test dependency: requirements-dev.txt)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import deploykit  # noqa: E402
from deploykit.archive.reader import read  # noqa: E402
from deploykit.errors import ExportError, UnsupportedOpsError  # noqa: E402
from deploykit.ir.printer import format_graph  # noqa: E402


def run_ir(graph, inputs):
    """Evaluates an IR graph with torch.nn.functional, following docs/ops.md."""
    env = {v.name: torch.as_tensor(x) for v, x in zip(graph.inputs, inputs)}
    env.update({name: torch.from_numpy(a.copy()) for name, a in graph.constants.items()})
    for node in graph.nodes:
        a = node.attrs
        ins = [None if v is None else env[v.name] for v in node.inputs]
        x = ins[0]
        if node.op == "conv2d":
            t, l, b, r = a["pads"]
            y = F.conv2d(F.pad(x, (l, r, t, b)), ins[1], ins[2], a["stride"], 0, a["dilation"], a["groups"])
        elif node.op == "batch_norm":
            y = F.batch_norm(x, ins[1], ins[2], ins[3], ins[4], False, 0.0, a["eps"])
        elif node.op == "relu":
            y = F.relu(x)
        elif node.op == "add":
            y = ins[0] + a["alpha"] * ins[1]
        elif node.op in ("max_pool2d", "avg_pool2d"):
            t, l, b, r = a["pads"]
            assert (t, l) == (b, r), "the frontend writes symmetric pool padding"
            if node.op == "max_pool2d":
                y = F.max_pool2d(x, a["kernel"], a["stride"], (t, l), a["dilation"], bool(a["ceil_mode"]))
            else:
                y = F.avg_pool2d(x, a["kernel"], a["stride"], (t, l), bool(a["ceil_mode"]),
                                 bool(a["count_include_pad"]), a["divisor_override"] or None)
        elif node.op == "adaptive_avg_pool2d":
            y = F.adaptive_avg_pool2d(x, a["output_size"])
        elif node.op == "flatten":
            y = torch.flatten(x, a["start_dim"], a["end_dim"])
        elif node.op == "linear":
            y = F.linear(x, ins[1], ins[2])
        elif node.op == "hardtanh":
            y = torch.clamp(x, a["min_val"], a["max_val"])
        elif node.op == "sigmoid":
            y = torch.sigmoid(x)
        elif node.op == "mul":
            y = ins[0] * ins[1]
        elif node.op == "reshape":
            y = x.reshape(a["shape"])
        elif node.op == "cat":
            y = torch.cat(ins, a["axis"])
        elif node.op == "mean":
            y = torch.mean(x, a["dims"], bool(a["keepdim"]))
        elif node.op == "softmax":
            y = torch.softmax(x, a["axis"])
        else:
            raise AssertionError(f"no interpreter rule for {node.op}")
        assert tuple(y.shape) == node.outputs[0].shape, (node.op, tuple(y.shape), node.outputs[0].shape)
        env[node.outputs[0].name] = y
    return [env[v.name] for v in graph.outputs]


def export_and_compare(model, inputs, tmp_path, atol=1e-5):
    path = tmp_path / "model.dkr"
    # These tests check the frontend's lowering: the optimization passes have their own tests.
    graph = deploykit.export(model, inputs, path, optimize=False)
    with torch.no_grad():
        expected = model(*inputs) if isinstance(model, nn.Module) else None
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    actual = run_ir(graph, inputs)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, atol=atol, rtol=1e-5)
    # The archive holds the same graph.
    assert format_graph(read(path).graph) == format_graph(graph)
    return graph


def ops_of(graph):
    return [n.op for n in graph.nodes]


class ConvVariants(nn.Module):
    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(4, 6, (3, 4), padding="same", dilation=(1, 2), bias=False)  # asymmetric pads
        self.valid = nn.Conv2d(6, 6, 3, padding="valid", groups=3)
        self.strided = nn.Conv2d(6, 8, 3, stride=2, padding=(1, 2))

    def forward(self, x):
        return self.strided(self.valid(self.same(x)))


def test_conv_padding_strings_become_explicit_pads(tmp_path):
    graph = export_and_compare(ConvVariants().eval(), (torch.randn(2, 4, 11, 13),), tmp_path)
    convs = [n for n in graph.nodes if n.op == "conv2d"]
    # 'same' with kernel 4, dilation 2 along W: total 6 -> left 3, right 3; kernel 3 along H: 1/1.
    assert convs[0].attrs["pads"] == [1, 3, 1, 3]
    assert convs[0].inputs[2] is None  # bias=False: absent optional input
    assert convs[1].attrs["pads"] == [0, 0, 0, 0] and convs[1].attrs["groups"] == 3
    assert convs[2].attrs == {"stride": [2, 2], "pads": [1, 2, 1, 2], "dilation": [1, 1], "groups": 1}


def test_conv_same_with_even_kernel_pads_more_at_the_end(tmp_path):
    model = nn.Conv2d(2, 3, (2, 4), padding="same").eval()
    graph = export_and_compare(model, (torch.randn(1, 2, 7, 9),), tmp_path)
    assert graph.nodes[0].attrs["pads"] == [0, 1, 1, 2]


class Pools(nn.Module):
    def forward(self, x):
        a = F.max_pool2d(x, 3)  # stride defaults to the kernel
        b = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        c = F.avg_pool2d(x, 2, 1, 1, count_include_pad=False)
        d = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, divisor_override=5)
        e = F.adaptive_avg_pool2d(x, (2, 3))
        return a, b, c, d, e


def test_pooling_attributes(tmp_path):
    graph = export_and_compare(Pools().eval(), (torch.randn(1, 2, 10, 9),), tmp_path)
    pools = [n for n in graph.nodes if n.op.endswith("pool2d")]
    assert pools[0].attrs["stride"] == [3, 3]
    assert pools[1].attrs["ceil_mode"] == 1
    assert pools[2].attrs["count_include_pad"] == 0 and pools[2].attrs["divisor_override"] == 0
    assert pools[3].attrs["divisor_override"] == 5
    assert pools[4].attrs == {"output_size": [2, 3]}
    assert len(graph.outputs) == 5


class Arithmetic(nn.Module):
    def forward(self, x, y):
        a = x + 2.5  # Python scalar -> 0-d constant
        b = torch.add(x, y, alpha=3)
        c = x - y
        d = 1 - x  # rsub
        e = x * 0.25
        f = torch.sub(y, x, alpha=0.5)
        return a, b, c, d, e, f


def test_scalar_arithmetic_becomes_add_and_mul(tmp_path):
    graph = export_and_compare(Arithmetic().eval(), (torch.randn(2, 3), torch.randn(2, 3)), tmp_path)
    assert ops_of(graph) == ["add", "add", "add", "add", "mul", "add"]
    alphas = [n.attrs["alpha"] for n in graph.nodes if n.op == "add"]
    assert alphas == [1.0, 3.0, -1.0, -1.0, -0.5]
    scalar = graph.nodes[0].inputs[1]
    assert scalar.kind == "constant" and scalar.shape == () and scalar.dtype == "f32"
    assert float(graph.constants[scalar.name]) == 2.5


class ShapeArithmetic(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        n = x.size(0)
        y = x.view(n, x.size(1) * x.size(2), -1)  # shape computed at export time
        y = y.reshape(x.shape[0], -1)
        return self.fc(y).softmax(dim=-1)


def test_shape_computations_are_evaluated_at_export_time(tmp_path):
    graph = export_and_compare(ShapeArithmetic().eval(), (torch.randn(3, 2, 3, 2),), tmp_path)
    assert ops_of(graph) == ["reshape", "reshape", "linear", "softmax"]
    assert graph.nodes[0].attrs["shape"] == [3, 6, 2]
    assert graph.nodes[1].attrs["shape"] == [3, 12]
    assert graph.nodes[3].attrs["axis"] == 1  # normalized


class Misc(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.w = nn.Parameter(torch.randn(4, 3))

    def forward(self, x):
        x = self.drop(x).contiguous().detach().clone()
        a = torch.flatten(x, -3, -2)
        b = torch.mean(x, dim=(-1, 1), keepdim=True)
        c = torch.cat([x, x * 2], dim=-1)
        d = F.relu6(x) + torch.clamp(x, min=-0.5) + torch.clamp(x, -1.0, 1.0) + torch.sigmoid(x)
        e = x @ self.w.t()  # matmul with a constant matrix -> linear
        return a, b, c, d, e


def test_identities_dropped_and_misc_ops(tmp_path):
    graph = export_and_compare(Misc().eval(), (torch.randn(2, 5, 4, 3),), tmp_path)
    ops = ops_of(graph)
    assert "dropout" not in " ".join(ops)
    flatten = next(n for n in graph.nodes if n.op == "flatten")
    assert (flatten.attrs["start_dim"], flatten.attrs["end_dim"]) == (1, 2)
    mean = next(n for n in graph.nodes if n.op == "mean")
    assert mean.attrs == {"dims": [1, 3], "keepdim": 1}
    cat = next(n for n in graph.nodes if n.op == "cat")
    assert cat.attrs["axis"] == 3
    bounds = [(n.attrs["min_val"], n.attrs["max_val"]) for n in graph.nodes if n.op == "hardtanh"]
    assert bounds == [(0.0, 6.0), (-0.5, math.inf), (-1.0, 1.0)]
    assert ops.count("linear") == 1


def test_batch_norm_is_kept_with_named_parameters(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 2)
        model[1].bias.uniform_(-1, 1)
    graph = export_and_compare(model, (torch.randn(1, 3, 6, 6),), tmp_path)
    assert ops_of(graph) == ["conv2d", "batch_norm", "relu"]
    bn = graph.nodes[1]
    assert [v.name for v in bn.inputs[1:]] == ["1.running_mean", "1.running_var", "1.weight", "1.bias"]
    assert bn.attrs["eps"] == pytest.approx(1e-5)
    assert bn.name == "1"


def test_source_locations_point_at_user_code(tmp_path):
    class Model(nn.Module):
        def forward(self, x):
            return torch.relu(x)  # LINE-MARK

    graph = deploykit.export(Model(), torch.randn(2), tmp_path / "m.dkr")
    line = next(i for i, text in enumerate(open(__file__), 1) if "# LINE-MARK" in text)
    assert graph.nodes[0].source == f"{os.path.basename(__file__)}:{line}"


class Unsupported(nn.Module):
    def forward(self, x):
        y = F.gelu(x)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest")
        return F.gelu(y) + torch.tanh(y)


def test_all_unsupported_ops_are_reported_in_one_error(tmp_path):
    path = tmp_path / "bad.dkr"
    with pytest.raises(UnsupportedOpsError) as info:
        deploykit.export(Unsupported(), torch.randn(1, 2, 4, 4), path)
    message = str(info.value)
    assert message.startswith("3 unsupported ops: ")
    for kind in ("aten::gelu", "aten::upsample_nearest2d", "aten::tanh"):
        assert kind in message
    base = os.path.basename(__file__)
    gelu = [loc for op, loc in info.value.ops if op == "aten::gelu"]
    assert len(gelu) == 2 and all(loc.startswith(base + ":") for loc in gelu)
    assert not path.exists()


def test_failed_export_keeps_the_previous_archive(tmp_path):
    path = tmp_path / "model.dkr"
    deploykit.export(nn.ReLU(), torch.randn(3), path)
    before = path.read_bytes()
    with pytest.raises(UnsupportedOpsError):
        deploykit.export(Unsupported(), torch.randn(1, 2, 4, 4), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.dkr"]


def test_non_float32_models_and_inputs_are_rejected(tmp_path):
    with pytest.raises(ExportError, match="float64"):
        deploykit.export(nn.Linear(3, 2).double(), torch.randn(1, 3, dtype=torch.float64), tmp_path / "a.dkr")
    with pytest.raises(ExportError, match="weight \\(float64\\)"):
        deploykit.export(nn.Linear(3, 2).double(), torch.randn(1, 3), tmp_path / "a.dkr")
    with pytest.raises(ExportError, match="example input 0 is int64"):
        deploykit.export(nn.ReLU(), torch.arange(3), tmp_path / "a.dkr")


def test_training_mode_is_restored_after_tracing(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    model.train()
    graph = deploykit.export(model, torch.randn(2, 3), tmp_path / "m.dkr")
    assert model.training
    assert ops_of(graph) == ["linear"]


class Scriptable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.extra = None
        self.scale = 2

    def forward(self, x):
        if self.extra is not None:
            x = self.extra(x)
        y = self.conv(x)
        if x.dim() == 4:  # resolved at export time
            y = torch.relu(y)
        else:
            y = torch.sigmoid(y)
        return y * self.scale


def test_script_module_and_saved_file(tmp_path):
    model = Scriptable().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(1, 3, 5, 5)
    graph = export_and_compare(scripted, (x,), tmp_path)
    assert ops_of(graph) == ["conv2d", "relu", "mul"]
    saved = tmp_path / "model.pt"
    scripted.save(str(saved))
    graph2 = deploykit.export(str(saved), (x,), tmp_path / "from_file.dkr", optimize=False)
    assert ops_of(graph2) == ops_of(graph)
    assert read(tmp_path / "from_file.dkr").metadata["source"] == "torchscript-file"
    torch.testing.assert_close(run_ir(graph2, (x,))[0], model(x), atol=1e-5, rtol=1e-5)


def test_resnet18_lowering_matches_pytorch(tmp_path):
    from deploykit.models.resnet import random_resnet

    model = random_resnet(18)
    graph = export_and_compare(model, (torch.randn(1, 3, 64, 64),), tmp_path, atol=1e-4)
    hist = graph.op_histogram()
    assert hist == {"conv2d": 20, "batch_norm": 20, "relu": 17, "add": 8, "max_pool2d": 1,
                    "adaptive_avg_pool2d": 1, "flatten": 1, "linear": 1}
    assert {v.name for v in graph.nodes[0].inputs[1:2]} == {"conv1.weight"}
