"""The IR verifier: SSA, def-before-use, arity, attributes, and shapes re-inferred.

It is run after the frontend builds a graph, before the writer serializes it, and by the
reader on what it parsed. Callers pick the error class (ExportError for graphs we built,
ArchiveError for graphs read from a file).
"""

from __future__ import annotations

from typing import Type

from ..errors import DeployError, ExportError
from .graph import CONSTANT, INPUT, NODE_OUTPUT, NUMPY_DTYPES, Graph
from .ops import OpError, infer_shapes, schema

MAX_RANK = 8


def verify_graph(graph: Graph, error_class: Type[DeployError] = ExportError) -> None:
    """Raises error_class naming the first problem found."""

    def fail(message: str):
        raise error_class(f"graph verification failed: {message}")

    defined = set()
    seen_ids = set()

    def define(value, how: str):
        if id(value) in seen_ids or value.name in defined:
            fail(f"value %{value.name} is defined twice (again as {how})")
        if graph.values.get(value.name) is not value:
            fail(f"value %{value.name} ({how}) is not registered in the graph's value table")
        if value.dtype not in NUMPY_DTYPES:
            fail(f"value %{value.name} has unknown dtype '{value.dtype}'")
        if len(value.shape) > MAX_RANK:
            fail(f"value %{value.name} has rank {len(value.shape)} > {MAX_RANK}")
        if any(d < 0 for d in value.shape):
            fail(f"value %{value.name} has a negative dim: {value.type_str()}")
        seen_ids.add(id(value))
        defined.add(value.name)

    for value in graph.inputs:
        if value.kind != INPUT:
            fail(f"graph input %{value.name} has kind '{value.kind}', expected '{INPUT}'")
        define(value, "graph input")

    for name, array in graph.constants.items():
        value = graph.values.get(name)
        if value is None:
            fail(f"constant '{name}' has no value in the graph's value table")
        if value.kind != CONSTANT:
            fail(f"constant %{name} has kind '{value.kind}', expected '{CONSTANT}'")
        if tuple(array.shape) != value.shape or NUMPY_DTYPES[value.dtype] != array.dtype:
            fail(f"constant %{name} is {value.type_str()} but its data is {array.dtype}{list(array.shape)}")
        define(value, "constant")

    for index, node in enumerate(graph.nodes):
        where = f"node {index} ({node.op}{' ' + repr(node.name) if node.name else ''}" \
                f"{' at ' + node.source if node.source else ''})"
        try:
            op_schema = schema(node.op)
        except OpError as e:
            fail(f"{where}: {e}")
        for slot, value in enumerate(node.inputs):
            if value is not None and value.name not in defined:
                fail(f"{where}: input {slot} %{value.name} is used before it is defined")
            if value is not None and graph.values.get(value.name) is not value:
                fail(f"{where}: input {slot} %{value.name} is not a value of this graph")
        if len(node.outputs) != op_schema.num_outputs:
            fail(f"{where}: has {len(node.outputs)} outputs, {node.op} has {op_schema.num_outputs}")
        for slot, value in enumerate(node.inputs):
            if value is not None and value.dtype not in op_schema.dtypes:
                fail(f"{where}: input {slot} %{value.name} is {value.dtype}, {node.op} takes "
                     f"{'/'.join(op_schema.dtypes)}")
        try:
            shapes = infer_shapes(node.op, [None if v is None else v.shape for v in node.inputs], node.attrs)
        except OpError as e:
            fail(f"{where}: {e}")
        for out, shape in zip(node.outputs, shapes):
            if out.kind != NODE_OUTPUT:
                fail(f"{where}: output %{out.name} has kind '{out.kind}', expected '{NODE_OUTPUT}'")
            if out.dtype not in op_schema.dtypes:
                fail(f"{where}: output %{out.name} is {out.dtype}, {node.op} produces {op_schema.dtypes[0]}")
            if tuple(out.shape) != tuple(shape):
                fail(f"{where}: output %{out.name} is recorded as {out.type_str()} but shape inference "
                     f"gives [{','.join(map(str, shape))}]")
            define(out, f"output of {where}")

    if not graph.outputs:
        fail("the graph has no outputs")
    for value in graph.outputs:
        if value.name not in defined or graph.values.get(value.name) is not value:
            fail(f"graph output %{value.name} is never defined")
    stray = set(graph.values) - defined
    if stray:
        fail(f"values registered but never defined: {', '.join(sorted(stray))}")
