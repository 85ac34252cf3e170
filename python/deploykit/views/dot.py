"""Graphviz text of a graph: one box per node (op, output type, weights), graph inputs and
outputs as ellipses, edges labelled with nothing (the shapes are in the boxes).
Render with ``dot -Tsvg model.dot -o model.svg``.
"""

from __future__ import annotations

from ..ir.graph import CONSTANT, Graph
from ..ir.printer import format_attr


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def format_dot(graph: Graph) -> str:
    lines = [f"digraph {_quote(graph.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
             '  edge [color="#7a869a", arrowsize=0.6];']
    producer = {}
    for i, v in enumerate(graph.inputs):
        lines.append(f'  in{i} [label={_quote(v.name + chr(10) + v.type_str())}, shape=ellipse, fillcolor="#e3f6e8"];')
        producer[v.name] = f"in{i}"
    for i, node in enumerate(graph.nodes):
        label = [node.op]
        for k, v in node.attrs.items():
            label.append(f"{k}={format_attr(v)}")
        for v in node.inputs:
            if v is not None and v.kind == CONSTANT:
                label.append(f"{v.name}: {v.type_str()}")
        label.append("-> " + ", ".join(v.type_str() for v in node.outputs))
        lines.append(f"  n{i} [label={_quote(chr(10).join(label))}];")
        for v in node.inputs:
            if v is not None and v.name in producer:
                lines.append(f"  {producer[v.name]} -> n{i};")
        for v in node.outputs:
            producer[v.name] = f"n{i}"
    for i, v in enumerate(graph.outputs):
        lines.append(f'  out{i} [label={_quote(v.name + chr(10) + v.type_str())}, shape=ellipse, fillcolor="#fbeee3"];')
        if v.name in producer:
            lines.append(f"  {producer[v.name]} -> out{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"
