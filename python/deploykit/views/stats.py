"""Per-node and total cost of a graph: parameters, FLOPs, bytes; the `--stats` table.

FLOPs count a multiply-add as 2. conv2d and linear: 2*MACs, plus one per output element
for each of bias, residual and clamp present. batch_norm: 2 per element (scale, shift).
Element-wise ops (relu, hardtanh, sigmoid, add, mul): 1 per output element (add with
alpha != 1: 2). Pools: one per window element read. mean / adaptive_avg_pool2d: one per
input element. softmax: 3 per element (exp, sum, divide). reshape, flatten, cat: 0.
Bytes: activations read + weights read + output written, as if nothing were cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

from ..ir.graph import CONSTANT, NUMPY_DTYPES, Graph, Node, Value


def _nbytes(value: Value) -> int:
    return value.numel * NUMPY_DTYPES[value.dtype].itemsize


def _prod(dims) -> int:
    return int(math.prod(dims))


def node_flops(node: Node) -> int:
    """FLOPs of one execution of the node; if / loop count 0 here (their work depends on the
    branch taken and the trip count, known only at run time)."""
    if not node.outputs:
        return 0
    op, out = node.op, node.outputs[0]
    present = [v for v in node.inputs if v is not None]
    extra = sum(1 for i in (2, 3) if len(node.inputs) > i and node.inputs[i] is not None)
    if "act_min" in node.attrs or "act_max" in node.attrs:
        extra += 1
    if op == "conv2d":
        w = node.inputs[1].shape
        return 2 * out.numel * _prod(w[1:]) + extra * out.numel
    if op == "linear":
        return 2 * out.numel * node.inputs[1].shape[1] + extra * out.numel
    if op == "batch_norm":
        return 2 * out.numel
    if op == "add":
        return out.numel * (1 if node.attrs["alpha"] == 1.0 else 2) + extra * out.numel
    if op in ("relu", "hardtanh", "sigmoid", "mul"):
        return out.numel
    if op in ("max_pool2d", "avg_pool2d"):
        return out.numel * _prod(node.attrs["kernel"])
    if op in ("adaptive_avg_pool2d", "mean"):
        return present[0].numel
    if op == "softmax":
        return 3 * out.numel
    return 0


@dataclass
class NodeStats:
    index: int
    node: Node
    params: int
    weight_bytes: int
    activation_bytes_read: int
    bytes_written: int
    flops: int

    @property
    def bytes_total(self) -> int:
        return self.activation_bytes_read + self.weight_bytes + self.bytes_written


def node_stats(graph: Graph, index: int, node: Node) -> NodeStats:
    seen = set()
    params = weight_bytes = activation = 0
    for v in node.inputs:
        if v is None or v.name in seen:
            continue
        seen.add(v.name)
        if v.kind == CONSTANT:
            params += v.numel
            weight_bytes += _nbytes(v)
        else:
            activation += _nbytes(v)
    written = sum(_nbytes(v) for v in node.outputs)
    return NodeStats(index, node, params, weight_bytes, activation, written, node_flops(node))


def graph_stats(graph: Graph) -> List[NodeStats]:
    return [node_stats(graph, i, n) for i, n in enumerate(graph.nodes)]


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M' (powers of 1000; bytes use 'B' with powers of 1024)."""
    if unit == "B":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(n) < 1024 or suffix == "GiB":
                return f"{n:.0f} {suffix}" if suffix == "B" else f"{n:.2f} {suffix}"
            n /= 1024
    for suffix in ("", "K", "M", "G", "T"):
        if abs(n) < 1000 or suffix == "T":
            return f"{n:.0f}" if suffix == "" else f"{n:.2f}{suffix}"
        n /= 1000
    return str(n)


def format_stats(graph: Graph, arena_bytes: Optional[int] = None) -> str:
    """The `deploykit inspect --stats` table. arena_bytes defaults to the Python memory plan."""
    from ..passes.memory_plan import plan_memory

    rows = graph_stats(graph)
    plan = plan_memory(graph)
    header = ("#", "value", "op", "output", "params", "FLOPs", "bytes")
    table = [header]
    for s in rows:
        out = s.node.outputs[0] if s.node.outputs else None
        table.append((str(s.index), "%" + out.name if out else "-", s.node.op, out.type_str() if out else "",
                      f"{s.params:,}",
                      f"{s.flops:,}", f"{s.bytes_total:,}"))
    total_params = graph.num_parameters()
    total_flops = sum(s.flops for s in rows)
    total_bytes = sum(s.bytes_total for s in rows)
    table.append(("", "total", f"{len(rows)} nodes", "", f"{total_params:,}", f"{total_flops:,}", f"{total_bytes:,}"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    right = {0, 4, 5, 6}

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in table[1:-1]]
    lines += ["  ".join("-" * w for w in widths), line(table[-1]), ""]
    lines.append(f"parameters:        {total_params:,} ({human(graph.weights_bytes(), 'B')} of weights)")
    lines.append(f"FLOPs:             {total_flops:,} ({human(total_flops)})")
    lines.append(f"activation arena:  {plan.activation_bytes:,} bytes ({human(plan.activation_bytes, 'B')}) planned, "
                 f"{plan.naive_bytes:,} without reuse")
    if arena_bytes is not None:
        lines.append(f"runtime arena:     {arena_bytes:,} bytes (activations + kernel scratch)")
    subgraphs = graph.all_graphs()[1:]
    if subgraphs:
        lines.append(f"subgraphs:         {len(subgraphs)} (if / loop), {sum(len(g.nodes) for g in subgraphs)} nodes; "
                     "their FLOPs depend on the branch and trip count and are not in the table")
    lines.append("")
    lines.append("op histogram (subgraphs included):" if subgraphs else "op histogram:")
    hist: Dict[str, int] = graph.op_histogram()
    flops_by_op: Dict[str, int] = {}
    for s in rows:
        flops_by_op[s.node.op] = flops_by_op.get(s.node.op, 0) + s.flops
    width = max((len(op) for op in hist), default=0)
    for op, count in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])):
        share = 100.0 * flops_by_op.get(op, 0) / total_flops if total_flops else 0.0
        lines.append(f"  {op.ljust(width)}  {count:>4}  {share:5.1f}% of FLOPs")
    return "\n".join(lines) + "\n"
