"""memory_plan: the activation arena the C++ runtime will allocate, computed in Python.

This is the algorithm of cpp/runtime/graph/memory_planner.cc with the buffer list of
cpp/runtime/graph/executor.cc, so for the same graph it gives the same offsets and the
same ``activation_bytes``:

- every node output is a buffer of numel * dtype size bytes, rounded up to 64 (min 64);
  graph inputs and constants are not in the arena, and neither is a graph output that a
  node produces and the graph lists once (the runtime writes it straight into the
  caller's output buffer);
- a buffer lives from the step of the node that writes it to the last step that reads it
  (graph outputs: to the end); a node's inputs stay live while it writes its outputs;
- in node order, buffers whose last use is before the step are freed (coalescing free
  neighbours), then each new buffer takes the smallest free block that fits (lowest
  offset on ties) or extends the arena, reusing a free block at its end.

The runtime's ``arena_bytes`` (deploykit.load(p).arena_bytes) is ``activation_bytes``
plus one kernel scratch area, 64-byte aligned, shared by all nodes: its size is the
largest ``workspace_bytes()`` of the chosen kernels, which only the runtime knows
(e.g. an unfolded batch_norm needs 2*C floats). This pass reports the activation part.
It is an analysis: the graph is not changed; the plan is in the PassResult's info.

Control flow: an ``if`` / ``loop`` node is planned like any node (its outputs are buffers of
the enclosing graph). The runtime plans each subgraph into its own arena and hands it to
the node as its workspace (cpp/runtime/graph/subgraph.h), i.e. inside the kernel scratch
part of ``arena_bytes`` that this pass does not model; ``subgraph_bytes`` in the info gives
each subgraph's own activation plan by this same algorithm, for reference only (how the
runtime sizes a subgraph's workspace around it is the runtime's business).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from ..ir.graph import NUMPY_DTYPES, Graph
from .base import Pass, PassResult

ALIGNMENT = 64


def _align(n: int) -> int:
    return (max(n, 1) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


@dataclass
class Buffer:
    value: str
    bytes: int  # aligned size
    first: int
    last: int
    offset: int = 0


@dataclass
class MemoryPlan:
    buffers: List[Buffer] = field(default_factory=list)
    activation_bytes: int = 0

    @property
    def offsets(self) -> Dict[str, int]:
        return {b.value: b.offset for b in self.buffers}

    @property
    def naive_bytes(self) -> int:
        """What one buffer per value would need: the saving the plan makes."""
        return sum(b.bytes for b in self.buffers)

    def peak_live_bytes(self) -> int:
        """Lower bound of any plan: the most bytes live at one step."""
        steps = max((b.last for b in self.buffers), default=-1) + 1
        return max((sum(b.bytes for b in self.buffers if b.first <= s <= b.last) for s in range(steps)), default=0)

    def check(self) -> None:
        """Raises AssertionError if two buffers live at the same time overlap in memory."""
        for i, a in enumerate(self.buffers):
            assert a.offset % ALIGNMENT == 0 and a.offset + a.bytes <= self.activation_bytes, a
            for b in self.buffers[i + 1:]:
                if a.first <= b.last and b.first <= a.last:
                    assert a.offset + a.bytes <= b.offset or b.offset + b.bytes <= a.offset, (a, b)


class _FreeList:
    """Free blocks kept as a sorted list of (size, offset) plus offset -> size."""

    def __init__(self):
        self.by_size: List[Tuple[int, int]] = []
        self.by_offset: Dict[int, int] = {}

    def insert(self, at: int, size: int) -> None:
        self.by_offset[at] = size
        bisect.insort(self.by_size, (size, at))

    def erase(self, at: int, size: int) -> None:
        del self.by_offset[at]
        self.by_size.remove((size, at))

    def take_best_fit(self, size: int):
        i = bisect.bisect_left(self.by_size, (size, 0))
        if i == len(self.by_size):
            return None
        block, at = self.by_size[i]
        self.erase(at, block)
        if block > size:
            self.insert(at + size, block - size)
        return at

    def release(self, at: int, size: int) -> None:
        following = self.by_offset.get(at + size)
        if following is not None:
            self.erase(at + size, following)
            size += following
        for start, length in list(self.by_offset.items()):
            if start + length == at:
                self.erase(start, length)
                at, size = start, size + length
                break
        self.insert(at, size)

    def block_ending_at(self, end: int):
        if not self.by_offset:
            return None
        at = max(self.by_offset)
        return (at, self.by_offset[at]) if at + self.by_offset[at] == end else None


def plan_memory(graph: Graph) -> MemoryPlan:
    plan = MemoryPlan()
    index: Dict[str, Buffer] = {}
    steps = len(graph.nodes)
    listed = [v.name for v in graph.outputs]
    for step, node in enumerate(graph.nodes):
        for out in node.outputs:
            if listed.count(out.name) == 1:
                continue  # written in place into the caller's output buffer
            size = out.numel * NUMPY_DTYPES[out.dtype].itemsize
            buffer = Buffer(out.name, _align(size), step, step)
            index[out.name] = buffer
            plan.buffers.append(buffer)
        for v in node.inputs:
            if v is not None and v.name in index:
                index[v.name].last = step
    for v in graph.outputs:
        if v.name in index:
            index[v.name].last = steps
    by_first = sorted(plan.buffers, key=lambda b: b.first)  # stable, as std::stable_sort
    by_last = sorted(plan.buffers, key=lambda b: b.last)
    free = _FreeList()
    arena_end = 0
    next_alloc = next_free = 0
    while next_alloc < len(by_first):
        step = by_first[next_alloc].first
        while next_free < len(by_last) and by_last[next_free].last < step:
            b = by_last[next_free]
            next_free += 1
            free.release(b.offset, b.bytes)
        while next_alloc < len(by_first) and by_first[next_alloc].first == step:
            b = by_first[next_alloc]
            next_alloc += 1
            at = free.take_best_fit(b.bytes)
            if at is None:
                tail = free.block_ending_at(arena_end)
                if tail is not None:
                    free.erase(*tail)
                    at = tail[0]
                else:
                    at = arena_end
                arena_end = at + b.bytes
            b.offset = at
    plan.activation_bytes = arena_end
    return plan


class MemoryPlanning(Pass):
    name = "memory_plan"
    in_place = False  # an analysis: returns its input graph unchanged
    description = "liveness-based arena plan (the C++ runtime's algorithm); reports the arena size"

    def run(self, graph: Graph) -> PassResult:
        plan = plan_memory(graph)
        subgraph_bytes = {f"{sub.name}": plan_memory(sub).activation_bytes for sub in graph.all_graphs()[1:]}
        return PassResult(graph, changed=False, info={
            "plan": plan, "activation_bytes": plan.activation_bytes, "naive_bytes": plan.naive_bytes,
            "subgraph_bytes": subgraph_bytes})
