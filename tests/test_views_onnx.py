"""--onnx: the optimized graph as ONNX, checked by onnx.checker and run by ONNX's own
reference evaluator against the deploykit runtime; a clear error without the package."""

import builtins

import numpy as np
import pytest

import deploykit
from deploykit.errors import DeployError
from deploykit.passes import optimize
from deploykit.views.onnx_export import to_onnx, write_onnx

from helpers import assert_close_to_torch, deploykit_cli
from pass_testing import GraphBuilder, inputs_for, run_runtime


def every_op_graph():
    g = GraphBuilder()
    x = g.input("x", 1, 3, 8, 8)
    c = g.batch_norm(g.conv(x, 4, name="conv1"), name="bn1")
    c2 = g.op("relu", g.op("add", g.conv(c, 4, name="conv2"), c, name="s", alpha=1.0), name="r")
    h = g.op("hardtanh", c2, name="h", min_val=-0.5, max_val=2.0)
    m = g.op("mul", g.op("sigmoid", h, name="sg"), h, name="m")
    a = g.op("add", m, g.op("max_pool2d", m, name="mp", kernel=[3, 3], stride=[1, 1],
                                                 pads=[1, 1, 1, 1], dilation=[1, 1], ceil_mode=0),
             name="a", alpha=-0.5)
    ap = g.op("avg_pool2d", a, name="ap", kernel=[2, 2], stride=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0,
              count_include_pad=1, divisor_override=3)
    cat = g.op("cat", ap, ap, name="cat", axis=1)
    ad = g.op("adaptive_avg_pool2d", cat, name="ad", output_size=[2, 2])
    mean = g.op("mean", ad, name="mean", dims=[3], keepdim=1)
    f = g.op("reshape", mean, name="f", shape=[1, 16])
    lin = g.op("linear", f, g.const("fc.weight", shape=(5, 16)), g.const("fc.bias", shape=(5,)), name="fc")
    y = g.op("softmax", lin, name="y", axis=1)
    fl = g.op("flatten", ad, name="fl", start_dim=1, end_dim=3)
    return optimize(g.output(y, fl), verify=True)


def test_onnx_matches_the_runtime(tmp_path):
    from onnx.reference import ReferenceEvaluator

    graph = every_op_graph()
    ops = {n.op for n in graph.nodes}
    assert "batch_norm" not in ops and any(len(n.inputs) == 4 and n.inputs[3] is not None for n in graph.nodes)
    model = to_onnx(graph)
    onnx_ops = [n.op_type for n in model.graph.node]
    for op in ("Conv", "Add", "Clip", "Sigmoid", "Mul", "MaxPool", "AveragePool", "Concat", "ReduceMean",
               "Reshape", "Gemm", "Softmax"):
        assert op in onnx_ops, op
    inputs = inputs_for(graph)
    expected = run_runtime(graph, inputs, tmp_path / "g.dkr")
    actual = ReferenceEvaluator(model).run(None, {"x": inputs[0]})
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close_to_torch(np.asarray(a, dtype=np.float32), e, what=f"ONNX output {i}")


def test_cli_onnx_on_resnet18(resnet_archives, tmp_path):
    import onnx

    case = resnet_archives.get("resnet18", 1)
    out = tmp_path / "r18.onnx"
    r = deploykit_cli(["inspect", case.archive, "--onnx", out])
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    hist = {}
    for n in model.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    assert hist == {"Conv": 20, "Add": 8, "Relu": 17, "MaxPool": 1, "GlobalAveragePool": 1, "Reshape": 1, "Gemm": 1}
    assert {i.name for i in model.graph.initializer} >= {"conv1.weight", "fc.weight"}


def test_missing_onnx_package_is_a_clear_error(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(DeployError, match=r"writing ONNX needs the optional 'onnx' package: pip install 'deploykit\[onnx\]'"):
        write_onnx(every_op_graph(), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
    assert deploykit.DeployError is DeployError
