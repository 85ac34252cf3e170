"""Helpers for the pass tests (tests/test_passes_*.py): build small IR graphs by hand, run a
graph before and after a pass, and compare.

Numerical equivalence is checked two ways: with the C++ runtime (each graph written to an
archive and run by deploykit.load: what users will run) and with the torch interpreter
below, which follows docs/ops.md including the fused epilogues (an oracle independent of
the runtime's kernels).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

import deploykit
from deploykit.archive.writer import write
from deploykit.ir.graph import Graph
from deploykit.ir.ops import infer_shapes
from deploykit.ir.printer import format_graph
from deploykit.ir.verify import verify_graph
from deploykit.passes import PassManager, make_passes
from deploykit.passes.base import copy_graph

from helpers import assert_close_to_torch


class GraphBuilder:
    """g = GraphBuilder(); x = g.input("x", 1, 3, 8, 8); y = g.op("relu", x); g.output(y)."""

    def __init__(self, seed=0):
        self.graph = Graph("main")
        self.rng = np.random.default_rng(seed)

    def input(self, name, *shape):
        return self.graph.add_input(name, "f32", shape)

    def const(self, name, array=None, shape=None, low=-1.0, high=1.0):
        if array is None:
            array = self.rng.uniform(low, high, size=shape).astype(np.float32)
        return self.graph.add_constant(name, np.asarray(array, dtype=np.float32))

    def op(self, op, *inputs, name=None, module="", **attrs):
        (shape,) = infer_shapes(op, [None if v is None else v.shape for v in inputs], attrs)
        return self.graph.add_node(op, list(inputs), [(name or op, "f32", shape)], attrs, name=module).outputs[0]

    def conv(self, x, out_channels, kernel=3, name="conv", bias=True, stride=1, pad=1, groups=1):
        c = x.shape[1]
        w = self.const(f"{name}.weight", shape=(out_channels, c // groups, kernel, kernel), low=-0.3, high=0.3)
        b = self.const(f"{name}.bias", shape=(out_channels,)) if bias else None
        return self.op("conv2d", x, w, b, name=name, module=name, stride=[stride, stride], pads=[pad] * 4,
                       dilation=[1, 1], groups=groups)

    def batch_norm(self, x, name="bn"):
        c = x.shape[1]
        return self.op("batch_norm", x, self.const(f"{name}.running_mean", shape=(c,)),
                       self.const(f"{name}.running_var", shape=(c,), low=0.5, high=2.0),
                       self.const(f"{name}.weight", shape=(c,), low=0.5, high=1.5),
                       self.const(f"{name}.bias", shape=(c,)), name=name, module=name, eps=1e-5)

    def output(self, *values):
        self.graph.outputs.extend(values)
        verify_graph(self.graph)
        return self.graph


def text(graph):
    return format_graph(graph)


def run_passes(graph, *names):
    """Runs the named passes with the verifier and the pass contracts checked between them."""
    return PassManager(make_passes(names), verify=True).run(graph)


def assert_golden(case, passes, before, after):
    """case() prints as `before` and, after `passes`, as `after`. Returns the optimized graph."""
    graph = case()
    assert text(graph) == before
    optimized = run_passes(graph, *passes)
    assert text(optimized) == after
    return optimized


def assert_passes_preserve_results(case, passes, before, tmp_path):
    """`passes` run on a copy of case() compute what it computes (assert_equivalent), and leave
    the original printing as `before`."""
    graph = case()
    optimized = run_passes(copy_graph(graph), *passes)
    assert text(graph) == before  # the copy was optimized, not the original
    assert_equivalent(graph, optimized, inputs_for(graph), tmp_path)


def inputs_for(graph, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs]


def run_runtime(graph, inputs, path):
    write(graph, str(path))
    out = deploykit.load(str(path), num_threads=1)(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def _clamp(y, attrs):
    low, high = attrs.get("act_min", -math.inf), attrs.get("act_max", math.inf)
    return torch.clamp(y, low, high) if (low, high) != (-math.inf, math.inf) else y


def run_torch(graph, inputs):
    """Evaluates an IR graph with torch.nn.functional, following docs/ops.md."""
    env = {v.name: torch.as_tensor(x) for v, x in zip(graph.inputs, inputs)}
    env.update({name: torch.from_numpy(a.copy()) for name, a in graph.constants.items()})
    for node in graph.nodes:
        a = node.attrs
        ins = [None if v is None else env[v.name] for v in node.inputs] + [None] * 4
        x = ins[0]
        op = node.op
        if op == "conv2d":
            t, l, b, r = a["pads"]
            y = F.conv2d(F.pad(x, (l, r, t, b)), ins[1], ins[2], a["stride"], 0, a["dilation"], a["groups"])
            y = _clamp(y if ins[3] is None else y + ins[3], a)
        elif op == "linear":
            y = F.linear(x, ins[1], ins[2])
            y = _clamp(y if ins[3] is None else y + ins[3], a)
        elif op == "batch_norm":
            y = F.batch_norm(x, ins[1], ins[2], ins[3], ins[4], False, 0.0, a["eps"])
        elif op == "relu":
            y = F.relu(x)
        elif op == "add":
            y = _clamp(ins[0] + a["alpha"] * ins[1], a)
        elif op == "mul":
            y = ins[0] * ins[1]
        elif op == "hardtanh":
            y = torch.clamp(x, a["min_val"], a["max_val"])
        elif op == "sigmoid":
            y = torch.sigmoid(x)
        elif op in ("max_pool2d", "avg_pool2d"):
            t, l, b, r = a["pads"]
            assert (t, l) == (b, r)
            if op == "max_pool2d":
                y = F.max_pool2d(x, a["kernel"], a["stride"], (t, l), a["dilation"], bool(a["ceil_mode"]))
            else:
                y = F.avg_pool2d(x, a["kernel"], a["stride"], (t, l), bool(a["ceil_mode"]),
                                 bool(a["count_include_pad"]), a["divisor_override"] or None)
        elif op == "adaptive_avg_pool2d":
            y = F.adaptive_avg_pool2d(x, a["output_size"])
        elif op == "flatten":
            y = torch.flatten(x, a["start_dim"], a["end_dim"])
        elif op == "reshape":
            y = x.reshape(a["shape"])
        elif op == "cat":
            y = torch.cat([v for v in ins if v is not None], a["axis"])
        elif op == "mean":
            y = torch.mean(x, a["dims"], bool(a["keepdim"]))
        elif op == "softmax":
            y = torch.softmax(x, a["axis"])
        else:
            raise AssertionError(f"no interpreter rule for {op}")
        assert tuple(y.shape) == node.outputs[0].shape, (op, tuple(y.shape), node.outputs[0].shape)
        env[node.outputs[0].name] = y
    return [env[v.name].numpy() for v in graph.outputs]


def assert_equivalent(before_text_graph, after, inputs, tmp_path, reference_outputs=None):
    """``after`` computes what ``before`` computed, in the C++ runtime and in the torch oracle.

    before_text_graph is the graph before the pass (a copy: passes work in place).
    """
    before = before_text_graph
    expected_rt = run_runtime(before, inputs, tmp_path / "before.dkr")
    actual_rt = run_runtime(after, inputs, tmp_path / "after.dkr")
    expected_torch = run_torch(before, inputs)
    actual_torch = run_torch(after, inputs)
    assert len(expected_rt) == len(actual_rt) == len(expected_torch)
    for i, (e, a, et, at) in enumerate(zip(expected_rt, actual_rt, expected_torch, actual_torch)):
        assert_close_to_torch(a, e, what=f"runtime output {i} after vs before the pass")
        assert_close_to_torch(at, et, what=f"torch-oracle output {i} after vs before the pass")
        assert_close_to_torch(a, et, what=f"runtime output {i} after the pass vs the oracle before it")
