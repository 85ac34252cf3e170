"""The IR data structures: Value, Node, Graph.

A Graph is SSA: every Value is defined exactly once, by a graph input, a constant
(its data lives in ``Graph.constants``) or a node output. Shapes are static tuples
of ints in this version. Value names are unique within a graph; the graph keeps a
name -> Value table so that writers, readers and passes can look values up.

Control flow (``if``, ``loop``) carries its subgraphs as Graph-valued node attributes.
A subgraph is self-contained (explicit captures): its nodes read only its own inputs,
constants and node outputs; the node passes every outer value it needs in as an input.
So a subgraph can be verified, printed and optimized on its own, and no Value object
belongs to two graphs. Value names are unique per graph only (a branch may reuse %x).
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

# Value kinds, mirroring the archive's value.kind (1 graph input, 2 constant, 3 node output).
INPUT = "input"
CONSTANT = "constant"
NODE_OUTPUT = "node"

# dtype names of the archive (docs/archive-format.md, Dtypes) and their numpy equivalents.
NUMPY_DTYPES = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "f64": np.dtype("<f8"),
    "i8": np.dtype("i1"),
    "u8": np.dtype("u1"),
    "i16": np.dtype("<i2"),
    "i32": np.dtype("<i4"),
    "i64": np.dtype("<i8"),
    "bool": np.dtype("bool"),
}


def dtype_of_numpy(dtype: np.dtype) -> str:
    """The IR dtype name of a numpy dtype; ValueError if the archive has no such dtype."""
    dtype = np.dtype(dtype)
    for name, candidate in NUMPY_DTYPES.items():
        if candidate == dtype.newbyteorder("<") or candidate == dtype:
            return name
    raise ValueError(f"numpy dtype {dtype} has no archive equivalent")


AttrValue = Union[int, float, str, List[int], List[float], "Graph"]


class Value:
    """A tensor in the graph: name, dtype (e.g. "f32"), static shape, and how it is defined.

    Dynamic shapes (deploykit.dynamic): ``shape`` keeps the export-time sizes (so passes,
    stats and views keep working), and ``symbols`` is None when every dim is fixed, else
    one entry per dim: None for a fixed dim, the symbol's name ("N") for a dim that equals
    it, "" for a dim that depends on symbols without being one (printed "?").
    """

    __slots__ = ("name", "dtype", "shape", "kind", "symbols")

    def __init__(self, name: str, dtype: str, shape: Sequence[int], kind: str,
                 symbols: Optional[Sequence[Optional[str]]] = None):
        self.name = name
        self.dtype = dtype
        self.shape = tuple(int(d) for d in shape)
        self.kind = kind
        self.symbols = None if symbols is None else tuple(symbols)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def type_str(self) -> str:
        return f"{self.dtype}[{','.join(self.dim_strs())}]"

    def dim_strs(self) -> List[str]:
        """Each dim as printed: its size, its symbol's name, or "?" for an unnamed dynamic dim."""
        if self.symbols is None:
            return [str(d) for d in self.shape]
        return [str(d) if s is None else (s or "?") for d, s in zip(self.shape, self.symbols)]

    def __repr__(self) -> str:
        return f"Value(%{self.name} : {self.type_str()}, {self.kind})"


class Node:
    """One op application. ``inputs`` may contain None for an absent optional input."""

    __slots__ = ("op", "inputs", "outputs", "attrs", "source", "name")

    def __init__(
        self,
        op: str,
        inputs: Sequence[Optional[Value]],
        outputs: Sequence[Value],
        attrs: Optional[Dict[str, AttrValue]] = None,
        source: str = "",
        name: str = "",
    ):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attrs = dict(attrs or {})
        self.source = source
        self.name = name

    @property
    def output(self) -> Value:
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.op} has {len(self.outputs)} outputs, not 1")
        return self.outputs[0]

    def subgraphs(self) -> List[Tuple[str, "Graph"]]:
        """(attribute name, graph) for each Graph-valued attribute, in attribute order."""
        return [(k, v) for k, v in self.attrs.items() if isinstance(v, Graph)]

    def __repr__(self) -> str:
        ins = ", ".join("None" if v is None else "%" + v.name for v in self.inputs)
        outs = ", ".join("%" + v.name for v in self.outputs)
        return f"Node({outs} = {self.op}({ins}) {self.attrs})"


class Graph:
    """inputs, outputs, nodes (in execution order), constants (name -> numpy array)."""

    def __init__(self, name: str = "main"):
        self.name = name
        self.inputs: List[Value] = []
        self.outputs: List[Value] = []
        self.nodes: List[Node] = []
        self.constants: Dict[str, np.ndarray] = {}
        self.values: Dict[str, Value] = {}

    # -- construction -------------------------------------------------------------

    def unique_name(self, base: str) -> str:
        """``base`` if unused, else ``base_1``, ``base_2``, ..."""
        base = base or "v"
        if base not in self.values:
            return base
        i = 1
        while f"{base}_{i}" in self.values:
            i += 1
        return f"{base}_{i}"

    def _register(self, value: Value) -> Value:
        if value.name in self.values:
            raise ValueError(f"value name %{value.name} is already defined")
        self.values[value.name] = value
        return value

    def add_input(self, name: str, dtype: str, shape: Sequence[int]) -> Value:
        value = self._register(Value(self.unique_name(name), dtype, shape, INPUT))
        self.inputs.append(value)
        return value

    def add_constant(self, name: str, array: np.ndarray) -> Value:
        """Adds a constant; the array is stored C-contiguous (and little-endian)."""
        array = np.asarray(array)
        dtype = dtype_of_numpy(array.dtype)
        # astype(order='C'), not ascontiguousarray: the latter turns 0-d arrays into 1-d ones.
        array = array.astype(NUMPY_DTYPES[dtype], order="C", copy=False)
        value = self._register(Value(self.unique_name(name), dtype, array.shape, CONSTANT))
        self.constants[value.name] = array
        return value

    def add_node(
        self,
        op: str,
        inputs: Sequence[Optional[Value]],
        output_types: Iterable[Tuple[str, str, Sequence[int]]],
        attrs: Optional[Dict[str, AttrValue]] = None,
        source: str = "",
        name: str = "",
    ) -> Node:
        """Appends a node; output_types are (name, dtype, shape) for each output."""
        outputs = [
            self._register(Value(self.unique_name(n), dtype, shape, NODE_OUTPUT))
            for n, dtype, shape in output_types
        ]
        node = Node(op, inputs, outputs, attrs, source, name)
        self.nodes.append(node)
        return node

    # -- queries --------------------------------------------------------------------

    def constant_data(self, value: Value) -> np.ndarray:
        return self.constants[value.name]

    def producers(self) -> Dict[str, Node]:
        """Value name -> the node that defines it."""
        return {out.name: node for node in self.nodes for out in node.outputs}

    def all_graphs(self) -> List["Graph"]:
        """This graph and every subgraph nested in it, depth first, parents before children."""
        found = [self]
        for node in self.nodes:
            for _, sub in node.subgraphs():
                found.extend(sub.all_graphs())
        return found

    def _all_constant_arrays(self) -> List[np.ndarray]:
        """Constant data of this graph and its subgraphs, each array once (a weight a subgraph
        shares with its parent is one array in two constant tables, one tensor in the archive)."""
        arrays: Dict[int, np.ndarray] = {}
        for g in self.all_graphs():
            for array in g.constants.values():
                arrays.setdefault(id(array), array)
        return list(arrays.values())

    def num_parameters(self) -> int:
        return int(sum(a.size for a in self._all_constant_arrays()))

    def weights_bytes(self) -> int:
        return int(sum(a.nbytes for a in self._all_constant_arrays()))

    def op_histogram(self) -> Dict[str, int]:
        """Op -> node count, subgraph nodes included."""
        hist: Dict[str, int] = {}
        for node in (n for g in self.all_graphs() for n in g.nodes):
            hist[node.op] = hist.get(node.op, 0) + 1
        return hist

    def __repr__(self) -> str:
        return (
            f"Graph({self.name!r}: {len(self.inputs)} inputs, {len(self.outputs)} outputs, "
            f"{len(self.nodes)} nodes, {len(self.constants)} constants)"
        )

    def __str__(self) -> str:
        from .printer import format_graph

        return format_graph(self)
