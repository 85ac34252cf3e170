"""cse: common-subexpression elimination.

Two nodes with the same op, the same input values and the same attributes compute the same
tensor (every op is pure): later ones are replaced by the first. Constants with identical
dtype, shape and bytes are merged first, so that nodes reading equal copies of a weight
(a tensor captured twice, a folded constant equal to a parameter) are recognized too.
A duplicate that is itself a graph output is kept, so the model's outputs keep their names.
"""

from __future__ import annotations

import hashlib
from typing import Dict, Tuple

from ..ir.graph import Graph, Node
from .base import Pass, PassResult, each_graph, forget_value, output_names, remove_nodes, replace_uses


def _freeze(value):
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, float):
        return ("f", value)  # 1 and 1.0 are equal in Python but are different attribute types
    return value


def node_key(node: Node) -> Tuple:
    inputs = tuple(None if v is None else v.name for v in node.inputs)
    attrs = tuple(sorted((k, _freeze(v)) for k, v in node.attrs.items()))
    return node.op, inputs, attrs


def merge_duplicate_constants(graph: Graph) -> int:
    first: Dict[Tuple, str] = {}
    merged = 0
    outputs = output_names(graph)
    for name in list(graph.constants):
        if name in outputs:
            continue
        array = graph.constants[name]
        key = (str(array.dtype), array.shape, hashlib.sha256(array.tobytes()).digest())
        if key in first:
            keep = graph.values[first[key]]
            replace_uses(graph, graph.values[name], keep)
            forget_value(graph, graph.values[name])
            merged += 1
        else:
            first[key] = name
    return merged


def eliminate_common_subexpressions(graph: Graph) -> int:
    """In place; returns the number of constants and nodes merged."""
    merged = merge_duplicate_constants(graph)
    seen: Dict[Tuple, Node] = {}
    duplicates = []
    outputs = output_names(graph)
    for node in graph.nodes:
        key = node_key(node)  # inputs already rewired: chains of duplicates collapse in one sweep
        original = seen.get(key)
        if any(o.name in outputs for o in node.outputs):
            seen.setdefault(key, node)
            continue
        if original is None:
            seen[key] = node
            continue
        for old, new in zip(node.outputs, original.outputs):
            replace_uses(graph, old, new)
            forget_value(graph, old)
        duplicates.append(node)
    remove_nodes(graph, duplicates)
    return merged + len(duplicates)


class CommonSubexpressionElimination(Pass):
    name = "cse"
    ensures = frozenset({"no_common_subexpressions"})
    in_place = True
    description = "merge identical constants and nodes that compute the same value"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, eliminate_common_subexpressions) > 0)
