"""Pass and PassManager: the contract every optimization pass follows.

A pass declares
- ``requires``: properties (names in PROPERTIES) the input graph must have,
- ``ensures``: properties the output graph has,
- ``in_place``: True if ``run`` mutates the graph it is given and returns it, False if it
  leaves its input untouched and returns a new graph (analyses return their input).

The PassManager runs passes in order. With ``verify=True`` (the tests use it) it runs
ir/verify.py and checks ``requires`` before and ``ensures`` after every pass, so a pass that
breaks the graph is caught at the pass that broke it; any failure is re-raised as a
PassError naming the failing pass and the passes that ran before it. With
``print_after_all`` it hands the printed graph after every pass to a callback.

The graph-editing helpers used by several passes (use lists, rewiring, copying) live here
too, so that every pass edits graphs the same way.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from ..errors import DeployError, ExportError
from ..ir.graph import CONSTANT, Graph, Node, Value
from ..ir.verify import verify_graph


class PassError(ExportError):
    """A pass failed or left a graph the verifier rejects. Names the pass history."""

    def __init__(self, message: str, pass_name: str, history: Sequence[str]):
        super().__init__(message)
        self.pass_name = pass_name
        self.history = list(history)


class PassResult:
    """What a pass returns: the graph, whether it changed, and optional analysis data."""

    def __init__(self, graph: Graph, changed: bool, info: Optional[dict] = None):
        self.graph = graph
        self.changed = changed
        self.info = dict(info or {})


class Pass:
    name: str = ""
    requires: FrozenSet[str] = frozenset()
    ensures: FrozenSet[str] = frozenset()
    in_place: bool = True
    description: str = ""

    def run(self, graph: Graph) -> PassResult:
        raise NotImplementedError(f"pass {type(self).__name__} does not implement run()")

    def __call__(self, graph: Graph) -> PassResult:
        return self.run(graph)

    def __repr__(self) -> str:
        return f"<pass {self.name}>"


# -- graph queries and edits shared by the passes ----------------------------------------------


def uses(graph: Graph) -> Dict[str, List[Tuple[Node, int]]]:
    """Value name -> [(node, input slot)] for every node input that reads it."""
    table: Dict[str, List[Tuple[Node, int]]] = {}
    for node in graph.nodes:
        for slot, value in enumerate(node.inputs):
            if value is not None:
                table.setdefault(value.name, []).append((node, slot))
    return table


def output_names(graph: Graph) -> set:
    return {v.name for v in graph.outputs}


def has_single_consumer(graph: Graph, value: Value, use_table=None, outputs=None) -> bool:
    """True if exactly one node input reads ``value`` and it is not a graph output."""
    use_table = uses(graph) if use_table is None else use_table
    outputs = output_names(graph) if outputs is None else outputs
    return len(use_table.get(value.name, [])) == 1 and value.name not in outputs


def replace_uses(graph: Graph, old: Value, new: Value) -> None:
    """Every read of ``old`` (node inputs and graph outputs) reads ``new`` instead."""
    for node in graph.nodes:
        node.inputs = [new if v is old else v for v in node.inputs]
    graph.outputs = [new if v is old else v for v in graph.outputs]


def forget_value(graph: Graph, value: Value) -> None:
    """Drops a value that nothing defines or reads any more from the value tables."""
    if graph.values.get(value.name) is value:
        del graph.values[value.name]
    if value.kind == CONSTANT:
        graph.constants.pop(value.name, None)


def adopt_output(graph: Graph, producer: Node, consumer: Node) -> None:
    """``producer`` (whose only user is ``consumer``) takes over ``consumer``'s output value.

    Used when a pass folds ``consumer`` into ``producer``: the fused node then defines the
    value everything downstream already reads, under the name (possibly a graph output's)
    the user sees, and the producer's old output disappears.
    """
    old = producer.output
    producer.outputs = [consumer.output]
    forget_value(graph, old)


def each_graph(graph: Graph, transform: Callable[[Graph], int]) -> int:
    """Applies a graph-local transform to ``graph`` and every subgraph nested in it, innermost
    first; returns the sum of what it returns (e.g. nodes changed).

    Subgraphs (``if`` branches, ``loop`` bodies) are self-contained graphs (ir/graph.py), so a
    pass that only rewrites nodes, constants and reads inside one graph stays correct there
    as long as it keeps the graph's inputs and its number of outputs, which the control-flow
    node's interface fixes; every pass using this helper does (they never touch inputs and
    only rename outputs to values of the same type).
    """
    total = 0
    for node in list(graph.nodes):
        for _, sub in node.subgraphs():
            total += each_graph(sub, transform)
    return total + int(transform(graph))


def remove_nodes(graph: Graph, doomed: Iterable[Node]) -> None:
    ids = {id(n) for n in doomed}
    graph.nodes = [n for n in graph.nodes if id(n) not in ids]


def replace_constant(graph: Graph, value: Value, array, use_table) -> Value:
    """A constant holding ``array`` to use in place of ``value`` at one use site.

    If ``value`` has that one use, its data is replaced under the same name (the archive keeps
    the parameter's name); if other nodes share it, a new constant is added beside it.
    """
    import numpy as np

    array = np.asarray(array, dtype=np.float32)
    if value.kind == CONSTANT and len(use_table.get(value.name, [])) == 1 and value.name not in output_names(graph) \
            and tuple(array.shape) == value.shape:
        graph.constants[value.name] = np.ascontiguousarray(array)
        return value
    return graph.add_constant(value.name, array)


def epilogue(node: Node) -> Tuple[float, float]:
    """The (act_min, act_max) clamp of a node's fused epilogue; (-inf, inf) when none."""
    return float(node.attrs.get("act_min", -math.inf)), float(node.attrs.get("act_max", math.inf))


def copy_graph(graph: Graph) -> Graph:
    """A deep copy whose constants share (read-only) array data with the original."""
    memo = {id(array): array for g in graph.all_graphs() for array in g.constants.values()}
    return copy.deepcopy(graph, memo)


# -- properties: what `requires` and `ensures` name ------------------------------------------------

def _no_dead_code(graph: Graph) -> Optional[str]:
    live = output_names(graph)
    for node in reversed(graph.nodes):
        if not any(o.name in live for o in node.outputs):
            return f"node {node.op} -> %{node.outputs[0].name} is dead"
        live.update(v.name for v in node.inputs if v is not None)
    unused = [name for name in graph.constants if name not in live]
    return f"constants never read: {', '.join(unused[:5])}" if unused else None


def _flat(graph: Graph) -> Optional[str]:
    from ..ir.ops import BY_NAME

    for node in graph.nodes:
        if node.op not in BY_NAME:
            return f"node {node.op} is not an op of docs/ops.md (a call or a subgraph)"
    return None


def _no_identity(graph: Graph) -> Optional[str]:
    from .remove_identity import find_identity

    for node in graph.nodes:
        if find_identity(graph, node) is not None:
            return f"{node.op} -> %{node.output.name} is an identity"
    return None


def _no_constant_nodes(graph: Graph) -> Optional[str]:
    from .constant_fold import is_foldable

    for node in graph.nodes:
        if is_foldable(node):
            return f"{node.op} -> %{node.output.name} has only constant inputs"
    return None


def _no_common_subexpressions(graph: Graph) -> Optional[str]:
    from .cse import node_key

    seen = {}
    outputs = output_names(graph)
    for node in graph.nodes:
        key = node_key(node)
        if key in seen and not any(o.name in outputs for o in node.outputs):
            return f"%{node.outputs[0].name} recomputes %{seen[key].outputs[0].name}"
        seen.setdefault(key, node)
    return None


def _nothing_left_for(find: Callable, what: str) -> Callable[[Graph], Optional[str]]:
    """A property check: `find(graph, node, uses, outputs)` (a pass's own matcher) finds
    nothing more to rewrite. `what` describes a leftover, formatted with the node."""

    def check(graph: Graph) -> Optional[str]:
        use_table, outputs = uses(graph), output_names(graph)
        for node in graph.nodes:
            if find(graph, node, use_table, outputs) is not None:
                return what.format(op=node.op, name=node.output.name)
        return None

    return check


def _no_foldable_batch_norm(graph: Graph) -> Optional[str]:
    from .fold_batchnorm import find_fold

    return _nothing_left_for(find_fold, "batch_norm -> %{name} can still be folded into its producer")(graph)


def _no_fusable_activation(graph: Graph) -> Optional[str]:
    from .fuse_activation import find_fusion

    return _nothing_left_for(find_fusion, "{op} -> %{name} can still be fused into its producer")(graph)


def _no_fusable_residual(graph: Graph) -> Optional[str]:
    from .fuse_residual import find_fusion

    return _nothing_left_for(find_fusion, "add -> %{name} can still be fused into a conv2d/linear")(graph)


# name -> check(graph) returning None if the graph has the property, else why not.
PROPERTIES: Dict[str, Callable[[Graph], Optional[str]]] = {
    "flat": _flat,
    "no_dead_code": _no_dead_code,
    "no_identity": _no_identity,
    "no_constant_nodes": _no_constant_nodes,
    "no_common_subexpressions": _no_common_subexpressions,
    "no_foldable_batch_norm": _no_foldable_batch_norm,
    "no_fusable_activation": _no_fusable_activation,
    "no_fusable_residual": _no_fusable_residual,
}


def check_property(graph: Graph, name: str) -> Optional[str]:
    return PROPERTIES[name](graph)


# -- the pass manager --------------------------------------------------------------------------------


class PassManager:
    """Runs passes in order; see the module docstring for verify and print_after_all."""

    def __init__(self, passes: Sequence[Pass], verify: bool = False,
                 print_after_all: bool = False, printer: Optional[Callable[[str], None]] = None):
        self.passes = list(passes)
        self.verify = verify
        self.print_after_all = print_after_all
        self.printer = printer or (lambda text: print(text, end=""))
        self.history: List[str] = []
        self.analyses: Dict[str, dict] = {}
        for p in self.passes:
            unknown = (set(p.requires) | set(p.ensures)) - set(PROPERTIES)
            if unknown:
                raise ValueError(f"pass {p.name} names unknown properties: {', '.join(sorted(unknown))}")

    def _fail(self, p: Pass, message: str, cause: Optional[BaseException] = None):
        ran = " -> ".join(self.history) if self.history else "(none)"
        error = PassError(f"pass '{p.name}' failed: {message} [passes run before it: {ran}]", p.name, self.history)
        if cause is not None:
            raise error from cause
        raise error

    def run(self, graph: Graph) -> Graph:
        from ..ir.printer import format_graph

        if self.verify:
            try:
                verify_graph(graph)
            except DeployError as e:
                raise PassError(f"the input graph is invalid before any pass ran: {e}", "", []) from e
        for p in self.passes:
            if self.verify:
                for prop in sorted(p.requires):
                    why = check_property(graph, prop)
                    if why is not None:
                        self._fail(p, f"requires '{prop}' but {why}")
            before = graph
            snapshot = format_graph(graph) if self.verify and not p.in_place else None
            try:
                result = p.run(graph)
            except PassError:
                raise
            except Exception as e:  # noqa: BLE001 - re-raised with the pass history
                self._fail(p, f"{type(e).__name__}: {e}", e)
            if not isinstance(result, PassResult):
                self._fail(p, f"run() returned {type(result).__name__}, not a PassResult")
            graph = result.graph
            if self.verify:
                if p.in_place and graph is not before:
                    self._fail(p, "declared in_place but returned a different graph object")
                if snapshot is not None and format_graph(before) != snapshot:
                    self._fail(p, "declared functional (in_place=False) but modified its input graph")
                try:
                    verify_graph(graph)
                except DeployError as e:
                    self._fail(p, f"left an invalid graph: {e}", e)
                for prop in sorted(p.ensures):
                    why = check_property(graph, prop)
                    if why is not None:
                        self._fail(p, f"ensures '{prop}' but {why}")
            self.history.append(p.name)
            if result.info:
                self.analyses[p.name] = result.info
            if self.print_after_all:
                self.printer(f"// after {p.name}{'' if result.changed else ' (unchanged)'}\n" + format_graph(graph))
        return graph


__all__ = [
    "Pass", "PassResult", "PassManager", "PassError", "PROPERTIES", "check_property",
    "uses", "output_names", "has_single_consumer", "replace_uses", "forget_value", "adopt_output",
    "remove_nodes", "replace_constant", "epilogue", "copy_graph", "each_graph",
]
