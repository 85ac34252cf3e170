"""A readable Python-like ``forward`` for a graph, as TorchScript's ``.code`` shows it.

    def forward(self, x: f32[1,3,224,224]) -> f32[1,1000]:
        input_1 = relu(conv2d(x, self.conv1.weight, self.bn1.bias, stride=[2,2], padding=[3,3,3,3]))  # f32[1,64,112,112]
        ...
        return fc_out

Parameters are ``self.<qualified name>`` (``self.layer1[0].conv1.weight``; ``self["1.weight"]`` when a name is not an
identifier); 0-d constants are written as literals. Fused epilogues read as what they
compute: ``relu(conv2d(...) + residual)``, ``clamp(linear(...), 0.0, 6.0)``.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Dict, List

from ..ir.graph import CONSTANT, Graph, Node, Value
from ..ir.printer import format_attr

_DEFAULT_ATTRS = {"conv2d": {"dilation": [1, 1], "groups": 1}}


class _Names:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.names: Dict[str, str] = {}
        self.used = {"self"}

    def local(self, value: Value) -> str:
        if value.name in self.names:
            return self.names[value.name]
        base = re.sub(r"\W", "_", value.name)
        if not base or base[0].isdigit():
            base = "v" + base
        if keyword.iskeyword(base):
            base += "_"
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        self.names[value.name] = name
        return name

    def ref(self, value) -> str:
        if value is None:
            return "None"
        if value.kind == CONSTANT:
            array = self.graph.constants[value.name]
            if array.ndim == 0:
                return repr(array.item() if array.dtype.kind in "bi" else float(array))
            # "layer1.0.conv1.weight" -> self.layer1[0].conv1.weight, as the nn.Module is accessed.
            parts = value.name.split(".")
            text = "self"
            for part in parts:
                if part.isidentifier() and not keyword.iskeyword(part):
                    text += "." + part
                elif part.isdigit() and text != "self":
                    text += f"[{part}]"
                else:
                    return f"self[{value.name!r}]"
            return text
        return self.local(value)


def _kwargs(node: Node, skip=()) -> List[str]:
    defaults = _DEFAULT_ATTRS.get(node.op, {})
    out = []
    for k, v in node.attrs.items():
        if k in skip or k in ("act_min", "act_max") or defaults.get(k, object()) == v:
            continue
        out.append(f"{'padding' if k == 'pads' else k}={format_attr(v)}")
    return out


def _clamp(expr: str, low: float, high: float) -> str:
    if (low, high) == (-math.inf, math.inf):
        return expr
    if (low, high) == (0.0, math.inf):
        return f"relu({expr})"
    if high == math.inf:
        return f"clamp({expr}, min={low!r})"
    if low == -math.inf:
        return f"clamp({expr}, max={high!r})"
    return f"clamp({expr}, {low!r}, {high!r})"


def _epilogue(node: Node):
    return node.attrs.get("act_min", -math.inf), node.attrs.get("act_max", math.inf)


def node_expression(node: Node, names: _Names) -> str:
    args = [names.ref(v) for v in node.inputs]
    op = node.op
    if op in ("conv2d", "linear"):
        expr = f"{op}({', '.join(args[:3] + _kwargs(node))})"
        if len(args) > 3 and node.inputs[3] is not None:
            expr = f"{expr} + {args[3]}"
        return _clamp(expr, *_epilogue(node))
    if op == "add":
        alpha = node.attrs["alpha"]
        if alpha == 1.0:
            expr = f"{args[0]} + {args[1]}"
        elif alpha == -1.0:
            expr = f"{args[0]} - {args[1]}"
        else:
            expr = f"{args[0]} + {alpha!r} * {args[1]}"
        return _clamp(expr, *_epilogue(node))
    if op == "mul":
        return f"{args[0]} * {args[1]}"
    if op == "cat":
        return f"cat([{', '.join(args)}], axis={node.attrs['axis']})"
    if op == "hardtanh":
        return _clamp(args[0], node.attrs["min_val"], node.attrs["max_val"])
    if op in ("sub", "div"):
        return f"{args[0]} {'-' if op == 'sub' else '/'} {args[1]}"
    if op == "compare":
        return f"{args[0]} {('==', '!=', '<', '<=', '>', '>=')[node.attrs['mode']]} {args[1]}"
    if op == "logical":
        return f"{args[0]} {('and', 'or', '^')[node.attrs['mode']]} {args[1]}"
    if op == "logical_not":
        return f"not {args[0]}"
    if op == "cast":
        to = {1: "f32", 8: "i64", 9: "bool"}.get(node.attrs["to"], str(node.attrs["to"]))
        return f"{to}({args[0]})"
    if op == "if":
        return f"then_branch({', '.join(args[1:])}) if {args[0]} else else_branch({', '.join(args[1:])})"
    if op == "loop":
        # docs/ops.md loop: body(iter, cond, carried..., captures...) while iter < trip count and cond
        return f"loop(body, {', '.join(args)})"
    present = [a for a, v in zip(args, node.inputs) if v is not None] if op != "batch_norm" else args
    return f"{op}({', '.join(present + _kwargs(node))})"


def _signature(graph: Graph, names: _Names, name: str) -> str:
    params = ", ".join(f"{names.local(v)}: {v.type_str()}" for v in graph.inputs)
    returns = ", ".join(v.type_str() for v in graph.outputs)
    if len(graph.outputs) != 1:
        returns = f"Tuple[{returns}]"
    return f"def {name}(self{', ' if params else ''}{params}) -> {returns}:"


def _body(graph: Graph, names: _Names, indent: str, lines: List[str]) -> None:
    for node in graph.nodes:
        targets = ", ".join(names.local(v) for v in node.outputs) or "_"
        comment = ", ".join(v.type_str() for v in node.outputs)
        if node.name:
            comment += f"  {node.name}"
        if node.source:
            comment += f"  ({node.source})"
        # A subgraph is a nested function of its own (it reads only its parameters and its
        # own constants), defined right before the node that runs it.
        for attr_name, sub in node.subgraphs():
            sub_names = _Names(sub)
            lines.append(f"{indent}{_signature(sub, sub_names, attr_name)}")
            _body(sub, sub_names, indent + "    ", lines)
        lines.append(f"{indent}{targets} = {node_expression(node, names)}  # {comment}")
    results = ", ".join(names.ref(v) for v in graph.outputs)
    lines.append(f"{indent}return {results}" if len(graph.outputs) == 1 else f"{indent}return ({results})")


def format_code(graph: Graph) -> str:
    names = _Names(graph)
    lines = [_signature(graph, names, "forward" if graph.name == "main" else graph.name)]
    lines.append(f"    # {len(graph.constants)} parameter tensors, {graph.num_parameters():,} values, in self.*")
    _body(graph, names, "    ", lines)
    return "\n".join(lines) + "\n"
