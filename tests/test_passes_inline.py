"""inline: the TorchScript frontend inlines module calls (torch's _jit_pass_inline via
module.inlined_graph); at the IR level the pass is a verified no-op that rejects non-flat
graphs."""

import pytest
import torch
import torch.nn as nn

import deploykit
from deploykit.ir.graph import Node
from deploykit.passes import PassManager, make_passes
from deploykit.passes.base import PassError, copy_graph

from pass_testing import GraphBuilder, assert_equivalent, inputs_for, run_passes, text


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)) + x


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.b = nn.Sequential(Block(), Block())

    def forward(self, x):
        return self.b(self.a(x))


def test_module_calls_are_inlined_by_the_frontend(tmp_path):
    graph = deploykit.export(Nested().eval(), torch.randn(1, 3, 5, 5), tmp_path / "m.dkr", optimize=False)
    # Every submodule call became its body: only ops of docs/ops.md, named by module path.
    assert [n.op for n in graph.nodes] == ["conv2d", "relu", "add"] * 3
    assert [n.name for n in graph.nodes if n.op == "conv2d"] == ["a.conv", "b.0.conv", "b.1.conv"]


def test_inline_is_a_verified_no_op_on_flat_graphs(tmp_path):
    g = GraphBuilder()
    x = g.input("x", 1, 2, 4, 4)
    graph = g.output(g.op("relu", g.conv(x, 2, name="conv"), name="r"))
    before = text(graph)
    after = run_passes(copy_graph(graph), "inline")
    assert text(after) == before
    assert_equivalent(graph, after, inputs_for(graph), tmp_path)


def test_inline_rejects_a_call_node():
    g = GraphBuilder()
    x = g.input("x", 1, 2)
    graph = g.output(g.op("relu", x, name="r"))
    graph.nodes.append(Node("call", [x], [], {}))
    with pytest.raises(PassError, match="pass 'inline' failed: ValueError: cannot inline: node call is not an op"):
        PassManager(make_passes(["inline"])).run(graph)
