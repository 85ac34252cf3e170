"""constant_fold: evaluate at export time every node whose inputs are all constants.

The TorchScript frontend already evaluates integer, list and shape arithmetic and tensor
ops on static tensors while it lowers (frontend/torchscript.py, _static_eval), so graphs
it produces rarely contain such nodes; other frontends, hand-built graphs and the other
passes can. The node is run by the C++ runtime itself (a one-node archive loaded with
deploykit.load), so the folded constant is bit for bit what the runtime would have
computed. A fold that would store much more data than it removes (a broadcast that
materializes a large tensor) is skipped. Subgraphs are folded on their own (their
constants are their own); ``if`` / ``loop`` nodes themselves are never folded.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from ..ir.graph import CONSTANT, Graph, Node
from .base import Pass, PassResult, each_graph, forget_value, remove_nodes, replace_uses

# Fold only if the result has at most this many elements or no more than the inputs together.
MAX_GROWTH_ELEMENTS = 1 << 16


def is_foldable(node: Node) -> bool:
    if node.subgraphs():
        return False  # if / loop: their subgraphs are folded on their own (each_graph), the node stays
    present = [v for v in node.inputs if v is not None]
    return bool(present) and all(v.kind == CONSTANT for v in present)


def _worth_folding(graph: Graph, node: Node) -> bool:
    inputs = sum(graph.constants[v.name].size for v in node.inputs if v is not None)
    return node.output.numel <= max(MAX_GROWTH_ELEMENTS, inputs)


def evaluate_node(graph: Graph, node: Node) -> np.ndarray:
    """Runs one node with constant inputs in the C++ runtime and returns its output."""
    from ..archive.writer import serialize
    from ..runtime import load

    single = Graph("fold")
    mapping = {}
    for v in node.inputs:
        if v is not None and v.name not in mapping:
            mapping[v.name] = single.add_constant(v.name, graph.constants[v.name])
    out = node.output
    folded = single.add_node(node.op, [None if v is None else mapping[v.name] for v in node.inputs],
                             [(out.name, out.dtype, out.shape)], dict(node.attrs))
    single.outputs.append(folded.output)
    fd, path = tempfile.mkstemp(prefix=".deploykit-fold-", suffix=".dkr")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(serialize(single, {"producer": "deploykit constant_fold"}))
        return np.array(load(path, num_threads=1)(), copy=True)
    finally:
        os.unlink(path)


def fold_constants(graph: Graph) -> int:
    """In place; returns the number of nodes folded."""
    folded = []
    for node in graph.nodes:
        if len(node.outputs) != 1 or not is_foldable(node) or not _worth_folding(graph, node):
            continue
        out = node.output
        array = evaluate_node(graph, node)
        forget_value(graph, out)  # frees the name: the constant keeps the value's name
        constant = graph.add_constant(out.name, array)
        replace_uses(graph, out, constant)
        folded.append(node)
    remove_nodes(graph, folded)
    return len(folded)


class ConstantFolding(Pass):
    name = "constant_fold"
    ensures = frozenset()  # large folds are skipped on purpose, so no_constant_nodes is not promised
    in_place = True
    description = "evaluate nodes whose inputs are all constants (in the C++ runtime) and store the result"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, fold_constants) > 0)
