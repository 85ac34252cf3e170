"""The text views (--graph typed SSA, --code, --stats, --dot) on a small graph (golden) and on
ResNet-18/50 archives through the CLI and deploykit.load(p).graph / .code."""

import re

import deploykit
from deploykit.archive.reader import read_graph
from deploykit.ir.printer import format_graph
from deploykit.passes import optimize
from deploykit.views import format_code, format_dot, format_html, format_stats

from helpers import deploykit_cli
from pass_testing import GraphBuilder


def fused_graph():
    g = GraphBuilder()
    x = g.input("x", 1, 2, 4, 4)
    c = g.conv(x, 2, name="layer1.0.conv")
    r = g.op("relu", g.op("add", c, x, name="s", alpha=1.0), name="r")
    p = g.op("adaptive_avg_pool2d", r, name="p", output_size=[1, 1])
    f = g.op("flatten", p, name="f", start_dim=1, end_dim=3)
    y = g.op("hardtanh", g.op("linear", f, g.const("fc.weight", shape=(3, 2)), None, name="fc"), name="y",
             min_val=0.0, max_val=6.0)
    return optimize(g.output(y), ["fuse_residual", "fuse_activation"], verify=True)


GRAPH = """\
graph main(%x : f32[1,2,4,4]):
  %layer1.0.conv.weight : f32[2,2,3,3] = constant
  %layer1.0.conv.bias : f32[2] = constant
  %fc.weight : f32[3,2] = constant
  %r : f32[1,2,4,4] = conv2d(%x, %layer1.0.conv.weight, %layer1.0.conv.bias, %x, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1, act_min=0.0, act_max=inf)
  %p : f32[1,2,1,1] = adaptive_avg_pool2d(%r, output_size=[1,1])
  %f : f32[1,2] = flatten(%p, start_dim=1, end_dim=3)
  %y : f32[1,3] = linear(%f, %fc.weight, None, act_min=0.0, act_max=6.0)
  return (%y)
"""

CODE = """\
def forward(self, x: f32[1,2,4,4]) -> f32[1,3]:
    # 3 parameter tensors, 44 values, in self.*
    r = relu(conv2d(x, self.layer1[0].conv.weight, self.layer1[0].conv.bias, stride=[1,1], padding=[1,1,1,1]) + x)  # f32[1,2,4,4]  layer1.0.conv
    p = adaptive_avg_pool2d(r, output_size=[1,1])  # f32[1,2,1,1]
    f = flatten(p, start_dim=1, end_dim=3)  # f32[1,2]
    y = clamp(linear(f, self.fc.weight, None), 0.0, 6.0)  # f32[1,3]
    return y
"""


def test_graph_and_code_golden():
    graph = fused_graph()
    assert format_graph(graph) == GRAPH
    assert str(graph) == GRAPH
    assert format_code(graph) == CODE


def test_stats_table():
    text = format_stats(fused_graph())
    lines = text.splitlines()
    assert lines[0].split() == ["#", "value", "op", "output", "params", "FLOPs", "bytes"]
    # conv: 2*32 outputs*18 MACs + bias + residual + clamp = 1152 + 96 FLOPs; 36+2 weights;
    # bytes: x read once (input and residual) 128 + weights 152 + output 128.
    assert lines[2].split() == ["0", "%r", "conv2d", "f32[1,2,4,4]", "38", "1,248", "408"]
    assert lines[5].split() == ["3", "%y", "linear", "f32[1,3]", "6", "15", "44"]
    total = next(l for l in lines if l.strip().startswith("total"))
    assert total.split() == ["total", "4", "nodes", "44", "1,295", "604"]
    # r (128) and p (64) live together; f reuses r's block; y, the graph output, is written
    # straight into the caller's buffer (not in the arena): 192, not 256.
    assert "activation arena:  192 bytes (192 B) planned, 256 without reuse" in text
    assert "  conv2d                  1   96.4% of FLOPs" in text.split("op histogram:")[1]


def test_dot_and_html_are_well_formed():
    graph = fused_graph()
    dot = format_dot(graph)
    assert dot.startswith('digraph "main" {') and dot.rstrip().endswith("}")
    edges = re.findall(r"^  (\w+) -> (\w+);$", dot, flags=re.MULTILINE)
    # x feeds the conv twice (input and residual), then the chain to the output.
    assert edges == [("in0", "n0"), ("in0", "n0"), ("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "out0")]
    page = format_html(graph, "tiny")
    assert page.count("<script") == 2 and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and '"label":"conv2d + add + relu"' in page


def test_cli_inspect_views_on_resnets(resnet_archives, tmp_path):
    for arch in ("resnet18", "resnet50"):
        case = resnet_archives.get(arch, 1)
        graph = read_graph(case.archive)
        html = tmp_path / f"{arch}.html"
        r = deploykit_cli(["inspect", case.archive, "--graph", "--code", "--stats", "--dot", "--html", html])
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert "passes:       inline, remove_identity" in out
        assert format_graph(graph, show_constants=False) in out
        assert format_code(graph) in out
        assert "activation arena:" in out and "op histogram:" in out
        assert out.count(" -> n") >= len(graph.nodes) - 1
        assert html.is_file() and html.read_text().count('"kind":"op"') == len(graph.nodes)
        module = deploykit.load(str(case.archive))
        assert module.graph == format_graph(graph)
        assert module.code == format_code(graph)
        first = graph.nodes[0]
        assert f"%{first.outputs[0].name} : f32[{case.batch},64,112,112] = conv2d(%x, " in module.graph
