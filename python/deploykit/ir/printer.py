"""Plain-text dump of a graph, one node per line:

    graph main(%x : f32[1,3,224,224]):
      %conv1.weight : f32[64,3,7,7] = constant
      %7 : f32[1,64,112,112] = conv2d(%x, %conv1.weight, None, stride=[2,2], pads=[3,3,3,3], ...)
      return (%7)

Subgraphs (Graph-valued attributes of if / loop) are printed as indented blocks after
their node, each with its own inputs, constants, nodes and return:

      %y : f32[2] = if(%c, %x)  # m.py:7
        then_branch(%x.1 : f32[2]):
          %y.1 : f32[2] = relu(%x.1)
          return (%y.1)
        else_branch(%x.2 : f32[2]):
          return (%x.2)
"""

from __future__ import annotations

from typing import List

from .graph import Graph, Node


def format_attr(value) -> str:
    if isinstance(value, Graph):
        return f"<graph {value.name}>"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_attr(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    return str(value)


def format_node(node: Node) -> str:
    """The node's own line; Graph-valued attributes are left to format_graph's blocks."""
    outs = ", ".join(f"%{v.name} : {v.type_str()}" for v in node.outputs)
    args: List[str] = ["None" if v is None else f"%{v.name}" for v in node.inputs]
    args += [f"{k}={format_attr(v)}" for k, v in node.attrs.items() if not isinstance(v, Graph)]
    line = f"{outs} = {node.op}({', '.join(args)})"
    if node.source:
        line += f"  # {node.source}"
    return line


def _body(graph: Graph, indent: str, show_constants: bool, lines: List[str]) -> None:
    if show_constants:
        for name in graph.constants:
            lines.append(f"{indent}%{name} : {graph.values[name].type_str()} = constant")
    for node in graph.nodes:
        lines.append(indent + format_node(node))
        for attr_name, sub in node.subgraphs():
            inputs = ", ".join(f"%{v.name} : {v.type_str()}" for v in sub.inputs)
            lines.append(f"{indent}  {attr_name}({inputs}):")
            _body(sub, indent + "    ", show_constants, lines)
    lines.append(indent + "return (" + ", ".join(f"%{v.name}" for v in graph.outputs) + ")")


def format_graph(graph: Graph, show_constants: bool = True) -> str:
    inputs = ", ".join(f"%{v.name} : {v.type_str()}" for v in graph.inputs)
    lines = [f"graph {graph.name}({inputs}):"]
    _body(graph, "  ", show_constants, lines)
    return "\n".join(lines) + "\n"
