"""dce: dead-code elimination.

Removes every node none of whose outputs reaches a graph output, and every constant
nothing reads. Tracing leaves such code behind (a shape read for an assert, an unused
branch of a tuple), and so do the fusion passes (a folded BatchNorm's parameters).
"""

from __future__ import annotations

from ..ir.graph import Graph
from .base import Pass, PassResult, each_graph, forget_value


def eliminate_dead_code(graph: Graph) -> bool:
    """In place; returns True if anything was removed."""
    live = {v.name for v in graph.outputs}
    kept = []
    dead = []
    for node in reversed(graph.nodes):
        if any(o.name in live for o in node.outputs):
            kept.append(node)
            live.update(v.name for v in node.inputs if v is not None)
        else:
            dead.append(node)
    kept.reverse()
    graph.nodes = kept
    for node in dead:
        for out in node.outputs:
            forget_value(graph, out)
    unused = [name for name in graph.constants if name not in live]
    for name in unused:
        forget_value(graph, graph.values[name])
    return bool(dead or unused)


class DeadCodeElimination(Pass):
    name = "dce"
    ensures = frozenset({"no_dead_code"})
    in_place = True
    description = "remove nodes and constants no graph output depends on"

    def run(self, graph: Graph) -> PassResult:
        # Inside subgraphs too; an if / loop node is pure, so it goes when nothing reads its outputs.
        return PassResult(graph, each_graph(graph, eliminate_dead_code) > 0)
