"""fold_batchnorm: fold an inference-mode batch_norm into the conv2d or linear before it.

    y = (conv(x, W) + b - mean) * gamma / sqrt(var + eps) + beta
      = conv(x, W * s[oc]) + (b - mean) * s + beta,        s = gamma / sqrt(var + eps)

The same holds for linear (W[out, in] scaled per output row) when its output is
[N, C], the only layout where batch_norm's channel dim 1 is linear's feature dim. The
producer must have no other reader, no residual input and no activation yet (those are
applied after the bias; the fusion passes run after this one), and the BatchNorm
parameters and the producer's weights must be constants. Folding is computed in float64
and rounded once to float32. The fused node takes over the batch_norm's output value.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir.graph import CONSTANT, Graph, Node
from .base import (Pass, PassResult, adopt_output, each_graph, has_single_consumer, output_names, remove_nodes,
                   replace_constant, uses)


def _is_constant(value) -> bool:
    return value is None or value.kind == CONSTANT


def find_fold(graph: Graph, bn: Node, use_table, outputs) -> Optional[Node]:
    """The conv2d/linear node ``bn`` (a batch_norm) can be folded into, or None."""
    if bn.op != "batch_norm" or not all(_is_constant(v) for v in bn.inputs[1:]):
        return None
    x = bn.inputs[0]
    producer = graph.producers().get(x.name)
    if producer is None or producer.op not in ("conv2d", "linear"):
        return None
    if not has_single_consumer(graph, x, use_table, outputs):
        return None
    if len(producer.inputs) > 3 and producer.inputs[3] is not None:
        return None
    if "act_min" in producer.attrs or "act_max" in producer.attrs:
        return None
    if not _is_constant(producer.inputs[1]) or (len(producer.inputs) > 2 and not _is_constant(producer.inputs[2])):
        return None
    if producer.op == "linear" and len(x.shape) != 2:
        return None
    return producer


def _array(graph: Graph, value, default: float, channels: int) -> np.ndarray:
    if value is None:
        return np.full(channels, default, dtype=np.float64)
    return graph.constants[value.name].astype(np.float64)


def fold_batch_norms(graph: Graph) -> int:
    """In place; returns the number of batch_norm nodes folded."""
    folded = []
    for bn in list(graph.nodes):
        use_table, outputs = uses(graph), output_names(graph)
        producer = find_fold(graph, bn, use_table, outputs)
        if producer is None:
            continue
        channels = bn.output.shape[1]
        mean = _array(graph, bn.inputs[1], 0.0, channels)
        var = _array(graph, bn.inputs[2], 1.0, channels)
        gamma = _array(graph, bn.inputs[3] if len(bn.inputs) > 3 else None, 1.0, channels)
        beta = _array(graph, bn.inputs[4] if len(bn.inputs) > 4 else None, 0.0, channels)
        scale = gamma / np.sqrt(var + float(bn.attrs["eps"]))
        weight_value = producer.inputs[1]
        bias_value = producer.inputs[2] if len(producer.inputs) > 2 else None
        weight = graph.constants[weight_value.name].astype(np.float64)
        bias = _array(graph, bias_value, 0.0, channels)
        new_weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        new_bias = (bias - mean) * scale + beta
        w = replace_constant(graph, weight_value, new_weight.astype(np.float32), use_table)
        # The folded bias keeps the name of the producer's bias, else of the BatchNorm's shift.
        bn_beta = bn.inputs[4] if len(bn.inputs) > 4 else None
        if bias_value is not None:
            b = replace_constant(graph, bias_value, new_bias.astype(np.float32), use_table)
        elif bn_beta is not None:
            b = replace_constant(graph, bn_beta, new_bias.astype(np.float32), use_table)
        else:
            b = graph.add_constant(f"{weight_value.name}.bias", new_bias.astype(np.float32))
        producer.inputs = [producer.inputs[0], w, b]
        adopt_output(graph, producer, bn)
        if bn.name and not producer.name:
            producer.name = bn.name
        folded.append(bn)
        graph.nodes = [n for n in graph.nodes if n is not bn]
    remove_nodes(graph, folded)
    return len(folded)


class FoldBatchNorm(Pass):
    name = "fold_batchnorm"
    ensures = frozenset({"no_foldable_batch_norm"})
    in_place = True
    description = "fold inference batch_norm into the preceding conv2d / linear weights and bias"

    def run(self, graph: Graph) -> PassResult:
        return PassResult(graph, each_graph(graph, fold_batch_norms) > 0)
