"""Plain-text dump of a graph, one node per line:

    graph main(%x : f32[1,3,224,224]):
      %conv1.weight : f32[64,3,7,7] = constant
      %7 : f32[1,64,112,112] = conv2d(%x, %conv1.weight, None, stride=[2,2], pads=[3,3,3,3], ...)
      return (%7)
"""

from __future__ import annotations

from typing import List

from .graph import Graph, Node


def format_attr(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_attr(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def format_node(node: Node) -> str:
    outs = ", ".join(f"%{v.name} : {v.type_str()}" for v in node.outputs)
    args: List[str] = ["None" if v is None else f"%{v.name}" for v in node.inputs]
    args += [f"{k}={format_attr(v)}" for k, v in node.attrs.items()]
    line = f"{outs} = {node.op}({', '.join(args)})"
    if node.source:
        line += f"  # {node.source}"
    return line


def format_graph(graph: Graph, show_constants: bool = True) -> str:
    inputs = ", ".join(f"%{v.name} : {v.type_str()}" for v in graph.inputs)
    lines = [f"graph {graph.name}({inputs}):"]
    if show_constants:
        for name in graph.constants:
            lines.append(f"  %{name} : {graph.values[name].type_str()} = constant")
    lines.extend("  " + format_node(node) for node in graph.nodes)
    lines.append("  return (" + ", ".join(f"%{v.name}" for v in graph.outputs) + ")")
    return "\n".join(lines) + "\n"
