"""The IR verifier: SSA, def-before-use, arity, attributes, and shapes re-inferred.

It is run after the frontend builds a graph, before the writer serializes it, and by the
reader on what it parsed. Callers pick the error class (ExportError for graphs we built,
ArchiveError for graphs read from a file).

Subgraphs (Graph-valued attributes of ``if`` / ``loop``) are verified recursively with the
same rules: explicit captures, i.e. a subgraph's nodes and outputs read only that
subgraph's own inputs, constants and node outputs, never a value of an enclosing graph.
No Value object may belong to two graphs, and nesting is bounded like the runtime's
(cpp/runtime/core/limits.h, kMaxSubgraphDepth). The interface of a control-flow node
(branch / body inputs and outputs against the node's captures and outputs) is checked
here, dtypes included, because shape inference (ir/ops.py) sees only shapes.
"""

from __future__ import annotations

from typing import Optional, Type

from ..errors import DeployError, ExportError
from .graph import CONSTANT, INPUT, NODE_OUTPUT, NUMPY_DTYPES, Graph, Node, Value
from .ops import OpError, infer_shapes, schema

MAX_RANK = 8
MAX_SUBGRAPH_DEPTH = 32  # cpp/runtime/core/limits.h kMaxSubgraphDepth


def verify_graph(graph: Graph, error_class: Type[DeployError] = ExportError) -> None:
    """Raises error_class naming the first problem found."""
    _Verifier(error_class).graph(graph, "", 0)


def _types(values) -> str:
    return "(" + ", ".join("absent" if v is None else v.type_str() for v in values) + ")"


def _same_type(a: Optional[Value], b: Optional[Value]) -> bool:
    return a is not None and b is not None and a.dtype == b.dtype and a.shape == b.shape


class _Verifier:
    def __init__(self, error_class: Type[DeployError]):
        self.error_class = error_class
        self.seen_ids = set()  # every Value object, across all graphs

    def fail(self, message: str):
        raise self.error_class(f"graph verification failed: {message}")

    def graph(self, graph: Graph, where_prefix: str, depth: int) -> None:
        fail = self.fail
        if depth > MAX_SUBGRAPH_DEPTH:
            fail(f"{where_prefix}subgraphs are nested {depth} levels deep; the limit is {MAX_SUBGRAPH_DEPTH}")
        defined = set()
        label = f"{where_prefix}graph '{graph.name}'" if where_prefix else ""
        scope = f"{label}: " if label else ""

        def define(value, how: str):
            if id(value) in self.seen_ids or value.name in defined:
                fail(f"{scope}value %{value.name} is defined twice (again as {how})")
            if graph.values.get(value.name) is not value:
                fail(f"{scope}value %{value.name} ({how}) is not registered in the graph's value table")
            if value.dtype not in NUMPY_DTYPES:
                fail(f"{scope}value %{value.name} has unknown dtype '{value.dtype}'")
            if len(value.shape) > MAX_RANK:
                fail(f"{scope}value %{value.name} has rank {len(value.shape)} > {MAX_RANK}")
            if any(d < 0 for d in value.shape):
                fail(f"{scope}value %{value.name} has a negative dim: {value.type_str()}")
            self.seen_ids.add(id(value))
            defined.add(value.name)

        for value in graph.inputs:
            if value.kind != INPUT:
                fail(f"{scope}graph input %{value.name} has kind '{value.kind}', expected '{INPUT}'")
            define(value, "graph input")

        for name, array in graph.constants.items():
            value = graph.values.get(name)
            if value is None:
                fail(f"{scope}constant '{name}' has no value in the graph's value table")
            if value.kind != CONSTANT:
                fail(f"{scope}constant %{name} has kind '{value.kind}', expected '{CONSTANT}'")
            if tuple(array.shape) != value.shape or NUMPY_DTYPES[value.dtype] != array.dtype:
                fail(f"{scope}constant %{name} is {value.type_str()} but its data is {array.dtype}{list(array.shape)}")
            define(value, "constant")

        for index, node in enumerate(graph.nodes):
            where = f"{label + ' ' if label else ''}node {index} ({node.op}" \
                    f"{' ' + repr(node.name) if node.name else ''}{' at ' + node.source if node.source else ''})"
            try:
                op_schema = schema(node.op)
            except OpError as e:
                fail(f"{where}: {e}")
            for slot, value in enumerate(node.inputs):
                if value is not None and value.name not in defined:
                    fail(f"{where}: input {slot} %{value.name} is used before it is defined"
                         + (" (a subgraph may only read its own inputs, constants and node outputs)"
                            if where_prefix else ""))
                if value is not None and graph.values.get(value.name) is not value:
                    fail(f"{where}: input {slot} %{value.name} is not a value of this graph")
            fixed = op_schema.num_outputs  # None (or < 0) for if/loop: as many as their subgraphs return
            if isinstance(fixed, int) and fixed >= 0 and len(node.outputs) != fixed:
                fail(f"{where}: has {len(node.outputs)} outputs, {node.op} has {op_schema.num_outputs}")
            # Subgraphs first: the op's shape inference reads their interfaces.
            for attr_name, sub in node.subgraphs():
                self.graph(sub, f"{where} attribute '{attr_name}': ", depth + 1)
            if node.subgraphs() or node.op in ("if", "loop"):
                self.control_flow(node, where)
            else:
                self.dtypes(node, op_schema, where)
            try:
                shapes = infer_shapes(node.op, [None if v is None else v.shape for v in node.inputs], node.attrs)
            except OpError as e:
                fail(f"{where}: {e}")
            if len(shapes) != len(node.outputs):
                fail(f"{where}: shape inference gives {len(shapes)} outputs, the node has {len(node.outputs)}")
            for out, shape in zip(node.outputs, shapes):
                if out.kind != NODE_OUTPUT:
                    fail(f"{where}: output %{out.name} has kind '{out.kind}', expected '{NODE_OUTPUT}'")
                if tuple(out.shape) != tuple(shape):
                    fail(f"{where}: output %{out.name} is recorded as {out.type_str()} but shape inference "
                         f"gives [{','.join(map(str, shape))}]")
                define(out, f"output of {where}")

        if not graph.outputs and not where_prefix:
            fail("the graph has no outputs")
        for value in graph.outputs:
            if value.name not in defined or graph.values.get(value.name) is not value:
                fail(f"{scope}graph output %{value.name} is never defined"
                     + (" in this subgraph (explicit captures: pass outer values in as inputs)" if where_prefix else ""))
        stray = set(graph.values) - defined
        if stray:
            fail(f"{scope}values registered but never defined: {', '.join(sorted(stray))}")

    def dtypes(self, node: Node, op_schema, where: str) -> None:
        """Element types of a plain op: its schema's dtype rule (ir/ops.py)."""
        infer_dtypes = getattr(op_schema, "infer_dtypes", None)
        if infer_dtypes is not None:
            try:
                expected = infer_dtypes([None if v is None else v.dtype for v in node.inputs], node.attrs)
            except OpError as e:
                self.fail(f"{where}: {e}")
            for out, dtype in zip(node.outputs, expected):
                if out.dtype != dtype:
                    self.fail(f"{where}: output %{out.name} is {out.dtype}, {node.op} produces {dtype} here")
            return
        for slot, value in enumerate(node.inputs):
            if value is not None and value.dtype not in op_schema.dtypes:
                self.fail(f"{where}: input {slot} %{value.name} is {value.dtype}, {node.op} takes "
                          f"{'/'.join(op_schema.dtypes)}")
        for out in node.outputs:
            if out.dtype not in op_schema.dtypes:
                self.fail(f"{where}: output %{out.name} is {out.dtype}, {node.op} produces {op_schema.dtypes[0]}")

    def control_flow(self, node: Node, where: str) -> None:
        """docs/ops.md `if` / `loop`: the subgraph interface matches the node, dtypes and shapes."""
        fail = self.fail
        if node.op == "if":
            branches = [node.attrs.get("then_branch"), node.attrs.get("else_branch")]
            if not all(isinstance(b, Graph) for b in branches):
                fail(f"{where}: then_branch and else_branch must be graphs")
            if not node.inputs or node.inputs[0] is None or node.inputs[0].dtype != "bool" \
                    or node.inputs[0].shape != ():
                fail(f"{where}: cond must be bool[], got {_types(node.inputs[:1])}")
            captures = node.inputs[1:]
            for attr_name, branch in zip(("then_branch", "else_branch"), branches):
                if len(branch.inputs) != len(captures) or not all(
                        _same_type(a, b) for a, b in zip(branch.inputs, captures)):
                    fail(f"{where}: {attr_name} takes {_types(branch.inputs)}, the node passes {_types(captures)}")
                if len(branch.outputs) != len(node.outputs) or not all(
                        _same_type(a, b) for a, b in zip(branch.outputs, node.outputs)):
                    fail(f"{where}: {attr_name} returns {_types(branch.outputs)}, the node's outputs are "
                         f"{_types(node.outputs)}")
            return
        if node.op == "loop":
            body = node.attrs.get("body")
            n = node.attrs.get("num_carried")
            if not isinstance(body, Graph) or not isinstance(n, int) or n < 0:
                fail(f"{where}: needs a body graph and num_carried >= 0")
            if len(node.inputs) < 2 + n:
                fail(f"{where}: has {len(node.inputs)} inputs, needs max_trip_count, cond and {n} carried")
            trip, cond = node.inputs[0], node.inputs[1]
            if trip is not None and (trip.dtype != "i64" or trip.shape != ()):
                fail(f"{where}: max_trip_count must be i64[] or absent, got {trip.type_str()}")
            if cond is not None and (cond.dtype != "bool" or cond.shape != ()):
                fail(f"{where}: cond must be bool[] or absent, got {cond.type_str()}")
            carried, captures = node.inputs[2:2 + n], node.inputs[2 + n:]
            if any(v is None for v in carried + captures):
                fail(f"{where}: carried values and captures cannot be absent")
            head = body.inputs[:2]
            if len(body.inputs) != 2 + len(carried) + len(captures) or head[0].type_str() != "i64[]" \
                    or head[1].type_str() != "bool[]" or not all(
                        _same_type(a, b) for a, b in zip(body.inputs[2:], carried + captures)):
                fail(f"{where}: body takes {_types(body.inputs)}, expected (i64[], bool[]) + carried "
                     f"{_types(carried)} + captures {_types(captures)}")
            if len(body.outputs) != 1 + n or body.outputs[0].type_str() != "bool[]" or not all(
                    _same_type(a, b) for a, b in zip(body.outputs[1:], carried)):
                fail(f"{where}: body returns {_types(body.outputs)}, expected bool[] + carried {_types(carried)}")
            if len(node.outputs) != n or not all(_same_type(a, b) for a, b in zip(node.outputs, carried)):
                fail(f"{where}: outputs {_types(node.outputs)} must equal the carried values {_types(carried)}")
            return
        fail(f"{where}: only if and loop may have graph attributes")
