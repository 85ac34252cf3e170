"""remove_identity: drop nodes whose output equals one of their inputs.

``dropout`` (in eval mode), ``identity``, ``contiguous``, ``detach`` and ``clone`` never
reach the IR: the TorchScript frontend maps their output to their input while it lowers
(frontend/torchscript.py, _identity / _lower_dropout). What remains for this pass are ops
that are identities for the shapes and attributes at hand:

- ``reshape`` / ``flatten`` to the shape the input already has,
- ``hardtanh`` with bounds (-inf, +inf), ``cat`` of one tensor,
- ``mean`` and the pools when the output shape equals the input shape and the op cannot
  change values (mean over size-1 dims; 1x1 windows, stride 1, no padding;
  adaptive pooling to the input's own size),
- ``add`` of a constant zero and ``mul`` by a constant one that do not broadcast.

Readers of the output read the input instead. When the output is a graph output, its
producer takes the value over (so the model's output keeps its name); if that is not
possible (the input is a graph input, a constant, or read elsewhere) the node stays.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..ir.graph import CONSTANT, NODE_OUTPUT, Graph, Node, Value
from .base import Pass, PassResult, adopt_output, each_graph, epilogue, output_names, remove_nodes, replace_uses, uses


def _constant_equal_to(graph: Graph, value: Optional[Value], scalar: float) -> bool:
    return value is not None and value.kind == CONSTANT and bool(np.all(graph.constants[value.name] == scalar))


def identity_input(graph: Graph, node: Node) -> Optional[Value]:
    """The input whose value the node's output always equals, or None."""
    if len(node.outputs) != 1 or not node.inputs or node.inputs[0] is None:
        return None
    out, x, a = node.output, node.inputs[0], node.attrs
    same_shape = out.shape == x.shape
    op = node.op
    if op in ("reshape", "flatten"):
        return x if same_shape else None
    if op == "hardtanh":
        return x if a["min_val"] == -math.inf and a["max_val"] == math.inf else None
    if op == "cat":
        return x if len(node.inputs) == 1 else None
    if op == "mean":
        return x if same_shape and all(x.shape[d] == 1 for d in a["dims"]) else None
    if op in ("max_pool2d", "avg_pool2d"):
        unit = list(a["kernel"]) == [1, 1] and list(a["stride"]) == [1, 1] and list(a["pads"]) == [0, 0, 0, 0]
        return x if unit and same_shape and a.get("divisor_override", 0) in (0, 1) else None
    if op == "adaptive_avg_pool2d":
        return x if same_shape else None
    if op == "add":
        if epilogue(node) != (-math.inf, math.inf):
            return None
        b = node.inputs[1]
        if _constant_equal_to(graph, b, 0.0) and same_shape:
            return x
        if _constant_equal_to(graph, x, 0.0) and a["alpha"] == 1.0 and out.shape == b.shape:
            return b
        return None
    if op == "mul":
        b = node.inputs[1]
        if _constant_equal_to(graph, b, 1.0) and same_shape:
            return x
        if _constant_equal_to(graph, x, 1.0) and out.shape == b.shape:
            return b
        return None
    return None


def find_identity(graph: Graph, node: Node, use_table=None, outputs=None) -> Optional[Value]:
    """identity_input(), if the node can also be removed without renaming a graph output."""
    source = identity_input(graph, node)
    if source is None:
        return None
    outputs = output_names(graph) if outputs is None else outputs
    if node.output.name not in outputs:
        return source
    use_table = uses(graph) if use_table is None else use_table
    adoptable = (source.kind == NODE_OUTPUT and source.name not in outputs
                 and len(use_table.get(source.name, [])) == 1)
    return source if adoptable else None


def remove_identities(graph: Graph) -> int:
    """In place; returns the number of nodes removed."""
    removed = []
    producers = graph.producers()
    for node in list(graph.nodes):
        # Recomputed per node: an earlier removal changes use counts and graph outputs.
        use_table, outputs = uses(graph), output_names(graph)
        source = find_identity(graph, node, use_table, outputs)
        if source is None:
            continue
        out = node.output
        if out.name in outputs:
            producer = producers[source.name]
            adopt_output(graph, producer, node)
            producers[out.name] = producer
        else:
            replace_uses(graph, out, source)
            del graph.values[out.name]
        node.inputs = []
        removed.append(node)
        graph.nodes = [n for n in graph.nodes if n is not node]
    remove_nodes(graph, removed)
    return len(removed)


class RemoveIdentity(Pass):
    name = "remove_identity"
    ensures = frozenset({"no_identity"})
    in_place = True
    description = "drop no-op reshape/flatten/clamp/pool/mean/cat and add 0 / mul 1"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, remove_identities) > 0)
