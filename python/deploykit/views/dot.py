"""Graphviz text of a graph: one box per node (op, output type, weights), graph inputs and
outputs as ellipses, edges labelled with nothing (the shapes are in the boxes).
Subgraphs of if / loop are drawn as dashed clusters beside their node, joined to it by a
dotted edge labelled with the attribute name (then_branch, else_branch, body).
Render with ``dot -Tsvg model.dot -o model.svg``.
"""

from __future__ import annotations

from typing import List

from ..ir.graph import CONSTANT, Graph
from ..ir.printer import format_attr


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _graph_body(graph: Graph, prefix: str, indent: str, lines: List[str]) -> None:
    producer = {}
    for i, v in enumerate(graph.inputs):
        lines.append(f'{indent}{prefix}in{i} [label={_quote(v.name + chr(10) + v.type_str())}, shape=ellipse, '
                     'fillcolor="#e3f6e8"];')
        producer[v.name] = f"{prefix}in{i}"
    for i, node in enumerate(graph.nodes):
        label = [node.op]
        for k, v in node.attrs.items():
            if not isinstance(v, Graph):
                label.append(f"{k}={format_attr(v)}")
        for v in node.inputs:
            if v is not None and v.kind == CONSTANT:
                label.append(f"{v.name}: {v.type_str()}")
        label.append("-> " + ", ".join(v.type_str() for v in node.outputs))
        me = f"{prefix}n{i}"
        lines.append(f"{indent}{me} [label={_quote(chr(10).join(label))}];")
        for v in node.inputs:
            if v is not None and v.name in producer:
                lines.append(f"{indent}{producer[v.name]} -> {me};")
        for v in node.outputs:
            producer[v.name] = me
        for attr_name, sub in node.subgraphs():
            sub_prefix = f"{me}_{attr_name}_"
            lines.append(f"{indent}subgraph cluster_{sub_prefix} {{")
            lines.append(f'{indent}  label={_quote(f"{node.op} {attr_name}: {sub.name}")}; style=dashed; '
                         'color="#7a869a";')
            _graph_body(sub, sub_prefix, indent + "  ", lines)
            lines.append(f"{indent}}}")
            anchor = f"{sub_prefix}in0" if sub.inputs else (f"{sub_prefix}n0" if sub.nodes else f"{sub_prefix}out0")
            lines.append(f'{indent}{me} -> {anchor} [style=dotted, label={_quote(attr_name)}];')
    for i, v in enumerate(graph.outputs):
        lines.append(f'{indent}{prefix}out{i} [label={_quote(v.name + chr(10) + v.type_str())}, shape=ellipse, '
                     'fillcolor="#fbeee3"];')
        if v.name in producer:
            lines.append(f"{indent}{producer[v.name]} -> {prefix}out{i};")


def format_dot(graph: Graph) -> str:
    lines = [f"digraph {_quote(graph.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
             '  edge [color="#7a869a", arrowsize=0.6];']
    _graph_body(graph, "", "  ", lines)
    lines.append("}")
    return "\n".join(lines) + "\n"
