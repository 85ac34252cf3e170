"""fuse_residual: fold ``add(conv(x), r)`` into conv2d's optional 4th input ``residual``.

docs/ops.md ("Fused epilogues"): conv2d and linear compute
``clamp(op(x) + bias + residual, act_min, act_max)``, so

    t = conv2d(x, W, b)            ->   y = conv2d(x, W, b, r, act_min=.., act_max=..)
    y = add(t, r[, act])

when ``t`` has no other reader, the conv has no residual and no epilogue yet (its clamp
would come before the add), the add does not broadcast (r's shape is exactly t's), and
the add computes t + r (alpha = 1 with t first, or alpha = 1 with t second: r + 1*t). The
add's own epilogue (a relu fused earlier) moves to the conv; a relu after the add is
fused by fuse_activation afterwards. linear has the same epilogue and is handled alike.

The fused node is placed where the add was, not where the conv was: ``r`` is often
computed after the conv (torchvision's BasicBlock runs the downsample branch after
conv2), and every input of the conv is defined before the add anyway.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

from ..ir.graph import Graph, Node, Value
from .base import Pass, PassResult, each_graph, epilogue, forget_value, has_single_consumer, output_names, uses

FUSABLE_PRODUCERS = ("conv2d", "linear")


def _fusable_producer(graph: Graph, value: Value, producers, use_table, outputs) -> Optional[Node]:
    producer = producers.get(value.name)
    if producer is None or producer.op not in FUSABLE_PRODUCERS:
        return None
    if not has_single_consumer(graph, value, use_table, outputs):
        return None
    if len(producer.inputs) > 3 and producer.inputs[3] is not None:
        return None
    if epilogue(producer) != (-math.inf, math.inf):
        return None
    return producer


def find_fusion(graph: Graph, add: Node, use_table, outputs) -> Optional[Tuple[Node, Value]]:
    """(producer, residual) if ``add`` can be fused into the conv2d/linear producing one operand."""
    if add.op != "add" or add.attrs["alpha"] != 1.0:
        return None
    producers = graph.producers()
    a, b = add.inputs
    for t, r in ((a, b), (b, a)):
        if t is r or t.shape != add.output.shape or r.shape != add.output.shape:
            continue
        producer = _fusable_producer(graph, t, producers, use_table, outputs)
        if producer is not None:
            return producer, r
    return None


def fuse_residuals(graph: Graph) -> int:
    """In place; returns the number of add nodes fused."""
    count = 0
    for add in list(graph.nodes):
        found = find_fusion(graph, add, uses(graph), output_names(graph))
        if found is None:
            continue
        producer, residual = found
        old = producer.output
        bias = producer.inputs[2] if len(producer.inputs) > 2 else None
        producer.inputs = [producer.inputs[0], producer.inputs[1], bias, residual]
        for key in ("act_min", "act_max"):
            if key in add.attrs:
                producer.attrs[key] = add.attrs[key]
        producer.outputs = [add.output]
        forget_value(graph, old)
        nodes = [n for n in graph.nodes if n is not producer]
        nodes[nodes.index(add)] = producer
        graph.nodes = nodes
        count += 1
    return count


class FuseResidual(Pass):
    name = "fuse_residual"
    ensures = frozenset({"no_fusable_residual"})
    in_place = True
    description = "fold add(conv2d/linear(x), r) into the conv2d/linear residual input"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, fuse_residuals) > 0)
