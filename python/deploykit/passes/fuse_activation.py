"""fuse_activation: fold relu / relu6 / hardtanh / clamp into the op that produces its input.

conv2d, linear and add carry an optional clamp epilogue, the act_min / act_max
attributes of docs/ops.md ("Fused epilogues"): relu is [0, +inf], relu6 (hardtanh 0..6)
[0, 6], clamp(min, max) / hardtanh(min, max) their bounds. The producer must have no
other reader and not be a graph output (its unclamped value would be lost). A producer
that already has an epilogue gets the intersection of the two ranges, which is exact when
the ranges overlap (clamp(clamp(y, a, b), c, d) = clamp(y, max(a, c), min(b, d))); when
they do not, the node is left alone. The fused node takes over the activation's output.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

from ..ir.graph import Graph, Node
from .base import (Pass, PassResult, adopt_output, each_graph, epilogue, has_single_consumer, output_names,
                   remove_nodes, uses)

FUSABLE_PRODUCERS = ("conv2d", "linear", "add")


def activation_range(node: Node) -> Optional[Tuple[float, float]]:
    """The clamp range an activation node applies, or None if it is not a clamp."""
    if node.op == "relu":
        return 0.0, math.inf
    if node.op == "hardtanh":
        return float(node.attrs["min_val"]), float(node.attrs["max_val"])
    return None


def find_fusion(graph: Graph, act: Node, use_table, outputs) -> Optional[Tuple[Node, float, float]]:
    """(producer, act_min, act_max) if ``act`` can be fused, else None."""
    bounds = activation_range(act)
    if bounds is None:
        return None
    x = act.inputs[0]
    producer = graph.producers().get(x.name)
    if producer is None or producer.op not in FUSABLE_PRODUCERS:
        return None
    if not has_single_consumer(graph, x, use_table, outputs):
        return None
    old_min, old_max = epilogue(producer)
    low, high = max(old_min, bounds[0]), min(old_max, bounds[1])
    if low > high:
        return None
    return producer, low, high


def fuse_activations(graph: Graph) -> int:
    """In place; returns the number of activation nodes fused."""
    fused = []
    for act in list(graph.nodes):
        found = find_fusion(graph, act, uses(graph), output_names(graph))
        if found is None:
            continue
        producer, low, high = found
        producer.attrs["act_min"] = low
        producer.attrs["act_max"] = high
        adopt_output(graph, producer, act)
        fused.append(act)
        graph.nodes = [n for n in graph.nodes if n is not act]
    remove_nodes(graph, fused)
    return len(fused)


class FuseActivation(Pass):
    name = "fuse_activation"
    ensures = frozenset({"no_fusable_activation"})
    in_place = True
    description = "fold relu / relu6 / hardtanh / clamp into the producing conv2d, linear or add"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, fuse_activations) > 0)
