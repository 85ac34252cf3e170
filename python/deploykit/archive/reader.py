"""A pure-Python reader of docs/archive-format.md: bytes -> IR Graph + metadata.

Used by `deploykit inspect` (which must work without the C++ runtime) and by round-trip
tests. Everything read is validated; a malformed file raises ArchiveError naming the
field, its offset, what was expected and what was found.
"""

from __future__ import annotations

import copy
import json
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import ArchiveError, ArchiveIOError, LimitError, UnsupportedError
from ..ir.graph import CONSTANT, INPUT, NODE_OUTPUT, NUMPY_DTYPES, Graph, Node, Value
from ..ir.ops import BY_CODE
from ..ir.verify import verify_graph
from . import format as fmt
from .test_vectors import TestVectors
from .test_vectors import parse as parse_test_vectors
from .packed_weights import SECTION_PACKED_WEIGHTS
from .packed_weights import parse as parse_packed_weights
from .tensor_crcs import SECTION_TENSOR_CRCS
from .tensor_crcs import parse as parse_tensor_crcs


@dataclass
class Section:
    kind: int
    offset: int
    size: int
    crc: int


@dataclass
class Archive:
    version: Tuple[int, int]
    file_size: int
    sections: Dict[int, Section]
    graph: Graph
    metadata: dict = field(default_factory=dict)
    metadata_error: Optional[str] = None
    # Format 1.1's optional TEST_VECTORS section, verified; None when absent.
    test_vectors: Optional[TestVectors] = None
    # Format 1.4's optional PACKED_WEIGHTS entries, verified; empty when absent.
    packed_weights: list = field(default_factory=list)
    # Format 1.5's optional TENSOR_CRCS (one CRC per tensor), verified; None when absent.
    tensor_crcs: Optional[List[int]] = None


def _fail(message: str):
    raise ArchiveError(message)


class _Cursor:
    """Bounds-checked little-endian reads inside one section."""

    def __init__(self, data: memoryview, base: int, size: int, name: str):
        self.data, self.base, self.size, self.name = data, base, size, name

    def unpack(self, fmt_string: str, offset: int, what: str):
        length = struct.calcsize(fmt_string)
        if offset < 0 or offset + length > self.size:
            _fail(f"{self.name}: {what} at section offset {offset} needs {length} bytes, "
                  f"section size is {self.size}")
        return struct.unpack_from(fmt_string, self.data, self.base + offset)


def _check_range(begin: int, count: int, limit: int, what: str) -> None:
    if begin > limit or count > limit - begin:
        _fail(f"{what}: range [{begin}, {begin}+{count}) exceeds the {limit} available entries")


def _read_header(data: memoryview) -> Tuple[Tuple[int, int], Dict[int, Section]]:
    size = len(data)
    if size < fmt.HEADER_SIZE:
        _fail(f"file is {size} bytes, shorter than the {fmt.HEADER_SIZE}-byte header")
    magic = bytes(data[0:8])
    if magic != fmt.MAGIC:
        _fail(f"header.magic at offset 0: expected {fmt.MAGIC.hex(' ')}, got {magic.hex(' ')} (not a .dkr archive)")
    (major, minor, byte_order, header_size, section_count, table_offset, file_size, flags,
     header_crc) = struct.unpack_from("<HHIIIQQII", data, 8)
    if major != fmt.VERSION_MAJOR:
        raise UnsupportedError(f"header.version_major at offset 8: this reader supports {fmt.VERSION_MAJOR}, "
                               f"the archive is {major}.{minor}")
    if byte_order != fmt.BYTE_ORDER_MARK:
        _fail(f"header.byte_order at offset 12: expected 0x{fmt.BYTE_ORDER_MARK:08X}, got 0x{byte_order:08X} "
              "(wrong endianness)")
    if header_size != fmt.HEADER_SIZE:
        _fail(f"header.header_size at offset 16: expected {fmt.HEADER_SIZE}, got {header_size}")
    if not 1 <= section_count <= fmt.MAX_SECTION_COUNT:
        _fail(f"header.section_count at offset 20: expected 1..{fmt.MAX_SECTION_COUNT}, got {section_count}")
    if table_offset != fmt.SECTION_TABLE_OFFSET:
        _fail(f"header.section_table_offset at offset 24: expected {fmt.SECTION_TABLE_OFFSET}, got {table_offset}")
    if file_size != size:
        _fail(f"header.file_size at offset 32: header says {file_size} bytes, the file has {size}")
    if flags != 0:
        _fail(f"header.flags at offset 40: expected 0, got 0x{flags:08X}")
    if any(data[48:64]):
        _fail("header.reserved at offset 48: expected zero bytes")
    table_end = table_offset + section_count * fmt.SECTION_ENTRY_SIZE
    if table_end > size:
        _fail(f"section table [{table_offset}, {table_end}) runs past the end of the {size}-byte file")
    crc_input = bytes(data[0:44]) + b"\x00\x00\x00\x00" + bytes(data[48:64]) + bytes(data[table_offset:table_end])
    actual_crc = fmt.crc32c(crc_input)
    if actual_crc != header_crc:
        _fail(f"header.header_crc at offset 44: stored 0x{header_crc:08X}, computed 0x{actual_crc:08X}")

    sections: Dict[int, Section] = {}
    for i in range(section_count):
        at = table_offset + i * fmt.SECTION_ENTRY_SIZE
        kind, sflags, offset, length, crc, reserved = struct.unpack_from("<IIQQII", data, at)
        where = f"section[{i}] at offset {at}"
        if sflags != 0 or reserved != 0:
            _fail(f"{where}: flags/reserved must be zero, got flags={sflags} reserved={reserved}")
        if offset % fmt.ALIGNMENT:
            _fail(f"{where}: offset {offset} is not a multiple of {fmt.ALIGNMENT}")
        if offset < table_end:
            _fail(f"{where}: offset {offset} lies inside the header or section table (ends at {table_end})")
        if offset > size or length > size - offset:
            _fail(f"{where}: [{offset}, {offset}+{length}) runs past the end of the {size}-byte file")
        if kind not in fmt.SECTION_NAMES:
            if minor > fmt.VERSION_MINOR:
                continue  # a later minor's optional section
            _fail(f"{where}: unknown section kind {kind}")
        if kind in sections:
            _fail(f"{where}: section kind {fmt.SECTION_NAMES[kind]} appears twice")
        actual = fmt.crc32c(data[offset:offset + length])
        if actual != crc:
            _fail(f"{where} ({fmt.SECTION_NAMES[kind]}): stored crc 0x{crc:08X}, computed 0x{actual:08X}")
        sections[kind] = Section(kind, offset, length, crc)
    for kind in fmt.SECTION_KINDS:
        if kind not in sections:
            _fail(f"section {fmt.SECTION_NAMES[kind]} (kind {kind}) is missing")
    ordered = sorted(sections.values(), key=lambda s: s.offset)
    for a, b in zip(ordered, ordered[1:]):
        if a.offset + a.size > b.offset:
            _fail(f"sections {fmt.SECTION_NAMES[a.kind]} and {fmt.SECTION_NAMES[b.kind]} overlap")
    return (major, minor), sections


def _read_strings(data: memoryview, section: Section) -> List[str]:
    cur = _Cursor(data, section.offset, section.size, "STRINGS")
    count, reserved = cur.unpack("<II", 0, "header")
    if count < 1:
        _fail("STRINGS.count at section offset 0: expected >= 1, got 0")
    if reserved:
        _fail(f"STRINGS.reserved at section offset 4: expected 0, got {reserved}")
    if count > (section.size - 8) // 8:
        _fail(f"STRINGS.count {count} needs {8 + 8 * count} bytes, section size is {section.size}")
    strings = []
    for i in range(count):
        offset, length = cur.unpack("<II", 8 + 8 * i, f"string[{i}] entry")
        if offset + length + 1 > section.size:
            _fail(f"string[{i}]: [{offset}, {offset}+{length}+1) runs past the {section.size}-byte STRINGS section")
        raw = bytes(data[section.offset + offset: section.offset + offset + length + 1])
        if raw[-1] != 0:
            _fail(f"string[{i}] at section offset {offset}: missing NUL terminator")
        if 0 in raw[:-1]:
            _fail(f"string[{i}] at section offset {offset}: contains an embedded NUL byte")
        try:
            strings.append(raw[:-1].decode("utf-8"))
        except UnicodeDecodeError as e:
            _fail(f"string[{i}] at section offset {offset}: invalid UTF-8 ({e.reason} at byte {e.start})")
    if strings[0] != "":
        _fail(f"string[0] must be empty, got {strings[0]!r}")
    return strings


def _string(strings: List[str], index: int, what: str) -> str:
    if index >= len(strings):
        _fail(f"{what}: string index {index} out of range (count {len(strings)})")
    return strings[index]


def _dtype(code: int, what: str) -> str:
    if code not in fmt.DTYPE_NAMES:
        _fail(f"{what}: invalid dtype code {code} (valid: 1..9)")
    return fmt.DTYPE_NAMES[code]


def _shape(rank: int, dims, what: str) -> Tuple[int, ...]:
    if rank > fmt.MAX_RANK:
        _fail(f"{what}: rank {rank} exceeds {fmt.MAX_RANK}")
    if any(d < 0 for d in dims[:rank]):
        _fail(f"{what}: negative dim in {list(dims[:rank])}")
    if any(dims[rank:]):
        _fail(f"{what}: dims beyond rank {rank} must be zero, got {list(dims)}")
    return tuple(dims[:rank])


def _read_tensors(data, tensors: Section, weights: Section, strings):
    cur = _Cursor(data, tensors.offset, tensors.size, "TENSORS")
    count, reserved = cur.unpack("<II", 0, "header")
    if reserved:
        _fail(f"TENSORS.reserved at section offset 4: expected 0, got {reserved}")
    expected = 8 + fmt.TENSOR_ENTRY_SIZE * count
    if expected != tensors.size:
        _fail(f"TENSORS.count {count} implies {expected} bytes, section size is {tensors.size}")
    result = []
    ranges = []
    for i in range(count):
        at = 8 + fmt.TENSOR_ENTRY_SIZE * i
        name_i, dtype_code, rank, flags, data_offset, nbytes = cur.unpack("<IIIIQQ", at, f"tensor[{i}]")
        dims = cur.unpack("<8q", at + 32, f"tensor[{i}].dims")
        what = f"tensor[{i}] at TENSORS offset {at}"
        name = _string(strings, name_i, f"{what}.name")
        dtype = _dtype(dtype_code, what)
        shape = _shape(rank, dims, what)
        if flags:
            _fail(f"{what}: flags must be 0, got {flags}")
        if data_offset % fmt.ALIGNMENT:
            _fail(f"{what} ('{name}'): data_offset {data_offset} is not a multiple of {fmt.ALIGNMENT}")
        numel = 1
        for d in shape:
            numel *= d
        if numel * fmt.DTYPE_SIZES[dtype] != nbytes:
            _fail(f"{what} ('{name}'): nbytes is {nbytes}, expected {numel * fmt.DTYPE_SIZES[dtype]} "
                  f"for {dtype}{list(shape)}")
        owned = max(nbytes, 1)
        if data_offset > weights.size or owned > weights.size - data_offset:
            _fail(f"{what} ('{name}'): data [{data_offset}, {data_offset}+{owned}) lies outside the "
                  f"{weights.size}-byte WEIGHTS section")
        ranges.append((data_offset, data_offset + owned, i))
        start = weights.offset + data_offset
        array = np.frombuffer(data[start:start + nbytes], dtype=NUMPY_DTYPES[dtype]).reshape(shape).copy()
        result.append((name, dtype, shape, array))
    ranges.sort()
    for (b0, e0, i0), (b1, e1, i1) in zip(ranges, ranges[1:]):
        if b1 < e0:
            _fail(f"tensor[{i0}] and tensor[{i1}] share bytes in WEIGHTS ([{b0},{e0}) and [{b1},{e1}))")
    return result


def _symbolic_dims(rank: int, dims, strings, what: str):
    """Format 1.2: dims with the symbolic ones set to 0 (sized later) and each dim's symbol."""
    if not any(d < 0 for d in dims[:rank]):
        _fail(f"{what}: flags bit 0 (symbolic dims) is set but no dim is negative")
    symbols = [None if d >= 0 else _string(strings, -(d + 1), f"{what} symbolic dim") for d in dims[:rank]]
    return [max(d, 0) for d in dims[:rank]] + list(dims[rank:]), symbols


def _resolve_symbolic_shapes(graph: Graph, sizes: Dict[str, int]) -> None:
    """Gives every symbolic dim the export-time size (metadata "symbols"; 64 when absent) so the
    IR's shapes stay concrete: inputs from the symbols, the rest by shape inference."""
    from ..ir.ops import OpError, infer_shapes

    for value in graph.inputs:
        if value.symbols is not None:
            if any(s == "" for s in value.symbols):
                _fail(f"input %{value.name}: a symbolic input dim must be named")
            value.shape = tuple(d if s is None else int(sizes.get(s, 64)) for d, s in zip(value.shape, value.symbols))
    for node in graph.nodes:
        try:
            shapes = infer_shapes(node.op, [None if v is None else v.shape for v in node.inputs], node.attrs)
        except (OpError, KeyError) as e:
            _fail(f"{node.op} node '{node.name}': shape inference at the export sizes {sizes} fails: {e}")
        for value, shape in zip(node.outputs, shapes):
            if value.symbols is not None:
                value.shape = tuple(shape)


def _read_graph(data, section: Section, strings, tensors, symbol_sizes: Optional[Dict[str, int]] = None) -> Graph:
    cur = _Cursor(data, section.offset, section.size, "GRAPH")
    counts = cur.unpack("<7I", 0, "header")
    n_values, n_nodes, n_graphs, n_attrs, n_ints, n_floats, n_indices = counts
    if any(bytes(data[section.offset + 28: section.offset + 64])) if section.size >= 64 else False:
        _fail("GRAPH.reserved at section offset 28: expected zero bytes")
    expected = (64 + 96 * n_values + 48 * n_nodes + 32 * n_graphs + 24 * n_attrs + 8 * n_ints
                + 8 * n_floats + 4 * n_indices)
    if expected != section.size:
        _fail(f"GRAPH counts {counts} imply {expected} bytes, section size is {section.size}")
    if n_graphs < 1:
        _fail("GRAPH.graph_count at section offset 8: expected >= 1, got 0")
    values_at = 64
    nodes_at = values_at + 96 * n_values
    graphs_at = nodes_at + 48 * n_nodes
    attrs_at = graphs_at + 32 * n_graphs
    ints_at = attrs_at + 24 * n_attrs
    floats_at = ints_at + 8 * n_ints
    indices_at = floats_at + 8 * n_floats
    ints = list(cur.unpack(f"<{n_ints}q", ints_at, "int pool"))
    floats = list(cur.unpack(f"<{n_floats}d", floats_at, "float pool"))
    indices = list(cur.unpack(f"<{n_indices}I", indices_at, "index pool"))

    # Graph entries first: graph objects exist before any GRAPH attribute refers to one.
    graph_entries = []
    graphs: List[Graph] = []
    for g in range(n_graphs):
        name_i, node_begin, node_count, in_begin, in_count, out_begin, out_count, reserved = cur.unpack(
            "<8I", graphs_at + 32 * g, f"graph[{g}]")
        graphs.append(Graph(_string(strings, name_i, f"graph[{g}].name")))
        _check_range(node_begin, node_count, n_nodes, f"graph[{g}] nodes")
        _check_range(in_begin, in_count, n_indices, f"graph[{g}] inputs")
        _check_range(out_begin, out_count, n_indices, f"graph[{g}] outputs")
        if reserved:
            _fail(f"graph[{g}].reserved: expected 0, got {reserved}")
        graph_entries.append((node_begin, node_count, in_begin, in_count, out_begin, out_count))

    # Values are global; each input and node output belongs to the one graph that defines it.
    # Constants are archive-wide: every graph that reads one gets its own Value for it (the IR
    # keeps subgraphs self-contained), sharing the array.
    values: List[Value] = []
    constant_arrays: Dict[int, np.ndarray] = {}
    for i in range(n_values):
        at = values_at + 96 * i
        name_i, kind, dtype_code, rank, tensor, flags = cur.unpack("<6I", at, f"value[{i}]")
        dims = cur.unpack("<8q", at + 24, f"value[{i}].dims")
        what = f"value[{i}] at GRAPH offset {at}"
        name = _string(strings, name_i, f"{what}.name")
        dtype = _dtype(dtype_code, what)
        symbols = None
        if flags == fmt.VALUE_FLAG_SYMBOLIC and kind != fmt.VALUE_CONSTANT:
            dims, symbols = _symbolic_dims(rank, dims, strings, what)
        shape = _shape(rank, dims, what)
        if (flags and symbols is None) or any(data[section.offset + at + 88: section.offset + at + 96]):
            _fail(f"{what}: flags (0, or 1 with symbolic dims) and reserved must be zero")
        if kind == fmt.VALUE_CONSTANT:
            if tensor >= len(tensors):
                _fail(f"{what}: tensor index {tensor} out of range (count {len(tensors)})")
            t_name, t_dtype, t_shape, array = tensors[tensor]
            if (t_dtype, t_shape) != (dtype, shape):
                _fail(f"{what}: value is {dtype}{list(shape)} but tensor[{tensor}] is {t_dtype}{list(t_shape)}")
            value = Value(name, dtype, shape, CONSTANT)
            constant_arrays[i] = array
        elif kind in (fmt.VALUE_INPUT, fmt.VALUE_NODE_OUTPUT):
            if tensor != fmt.NONE:
                _fail(f"{what}: tensor must be NONE for kind {kind}, got {tensor}")
            value = Value(name, dtype, shape, INPUT if kind == fmt.VALUE_INPUT else NODE_OUTPUT, symbols)
        else:
            _fail(f"{what}: invalid kind {kind} (1 input, 2 constant, 3 node output)")
        values.append(value)
    local_constants: List[Dict[int, Value]] = [{} for _ in range(n_graphs)]

    def register(g: int, value: Value, what: str) -> None:
        existing = graphs[g].values.get(value.name)
        if existing is not None and existing is not value:
            _fail(f"{what}: value name '{value.name}' is used twice in graph {g}; this reader needs unique names "
                  "per graph")
        graphs[g].values[value.name] = value

    def constant_in(g: int, vid: int, what: str) -> Value:
        local = local_constants[g].get(vid)
        if local is None:
            original = values[vid]
            local = Value(original.name, original.dtype, original.shape, CONSTANT)
            register(g, local, what)
            graphs[g].constants[local.name] = constant_arrays[vid]
            local_constants[g][vid] = local
        return local

    def value_at(g: int, index_pos: int, what: str, allow_none: bool = False) -> Optional[Value]:
        vid = indices[index_pos]
        if vid == fmt.NONE and allow_none:
            return None
        if vid >= len(values):
            _fail(f"{what}: value id {vid} out of range (count {len(values)})")
        if values[vid].kind == CONSTANT:
            return constant_in(g, vid, what)
        return values[vid]

    owner: Dict[int, int] = {}  # id(Value) -> graph defining it (inputs and node outputs)
    declared_inputs = set()
    for g, (node_begin, node_count, in_begin, in_count, out_begin, out_count) in enumerate(graph_entries):
        for k in range(in_count):
            value = value_at(g, in_begin + k, f"graph[{g}] input {k}")
            if value.kind != INPUT:
                _fail(f"graph[{g}] input {k}: value %{value.name} is not of kind 1 (graph input)")
            if id(value) in declared_inputs:
                _fail(f"graph[{g}] input {k}: value %{value.name} is already an input of a graph")
            declared_inputs.add(id(value))
            owner[id(value)] = g
            register(g, value, f"graph[{g}] input {k}")
            graphs[g].inputs.append(value)
    for value in values:
        if value.kind == INPUT and id(value) not in declared_inputs:
            _fail(f"value %{value.name} has kind 1 (graph input) but is not an input of any graph")

    references = [0] * n_graphs
    children: List[List[int]] = [[] for _ in range(n_graphs)]
    for g, (node_begin, node_count, in_begin, in_count, out_begin, out_count) in enumerate(graph_entries):
        graph = graphs[g]
        for i in range(node_begin, node_begin + node_count):
            at = nodes_at + 48 * i
            op_code, name_i, source_i, ib, ic, ob, oc, ab, ac = cur.unpack("<9I", at, f"node[{i}]")
            what = f"node[{i}] at GRAPH offset {at}"
            if any(data[section.offset + at + 36: section.offset + at + 48]):
                _fail(f"{what}: reserved bytes must be zero")
            if op_code not in BY_CODE:
                raise UnsupportedError(f"{what}: unknown op code {op_code}")
            op_schema = BY_CODE[op_code]
            _check_range(ib, ic, n_indices, f"{what} inputs")
            _check_range(ob, oc, n_indices, f"{what} outputs")
            _check_range(ab, ac, n_attrs, f"{what} attributes")
            inputs = [value_at(g, ib + k, f"{what} input {k}", allow_none=True) for k in range(ic)]
            outputs = [value_at(g, ob + k, f"{what} output {k}") for k in range(oc)]
            for k, out in enumerate(outputs):
                if out.kind == NODE_OUTPUT:
                    if id(out) in owner:
                        _fail(f"{what} output {k}: value %{out.name} is defined twice")
                    owner[id(out)] = g
                    register(g, out, f"{what} output {k}")
            attrs = {}
            for k in range(ab, ab + ac):
                a_at = attrs_at + 24 * k
                a_name_i, a_type = cur.unpack("<II", a_at, f"attr[{k}]")
                a_name = _string(strings, a_name_i, f"attr[{k}].name")
                a_what = f"{what} attribute '{a_name}' (attr[{k}])"
                if not a_name:
                    _fail(f"{a_what}: empty attribute name")
                if a_name in attrs:
                    _fail(f"{a_what}: duplicate attribute name")
                if a_type == fmt.ATTR_INT:
                    value, b = cur.unpack("<qQ", a_at + 8, a_what)
                elif a_type == fmt.ATTR_FLOAT:
                    value, b = cur.unpack("<dQ", a_at + 8, a_what)
                elif a_type in (fmt.ATTR_INTS, fmt.ATTR_FLOATS):
                    begin, b = cur.unpack("<QQ", a_at + 8, a_what)
                    pool = ints if a_type == fmt.ATTR_INTS else floats
                    _check_range(begin, b, len(pool), a_what)
                    value, b = list(pool[begin:begin + b]), 0
                elif a_type == fmt.ATTR_STRING:
                    index, b = cur.unpack("<QQ", a_at + 8, a_what)
                    value = _string(strings, index, a_what)
                elif a_type == fmt.ATTR_GRAPH:
                    index, b = cur.unpack("<QQ", a_at + 8, a_what)
                    if index < 1 or index >= n_graphs:
                        _fail(f"{a_what}: graph index {index} out of range (1..{n_graphs - 1})")
                    references[index] += 1
                    children[g].append(index)
                    value = graphs[index]
                else:
                    _fail(f"{a_what}: invalid attribute type {a_type}")
                if b != 0:
                    _fail(f"{a_what}: field b must be zero for type {a_type}, got {b}")
                spec = op_schema.attrs.get(a_name)
                expected_type = fmt.ATTR_TYPE_CODES[spec.type] if spec else None
                if spec is not None and expected_type != a_type:
                    _fail(f"{a_what}: type {fmt.ATTR_TYPE_NAMES.get(a_type, a_type)} but {op_schema.name} "
                          f"expects {spec.type}")
                attrs[a_name] = value
            node_name = _string(strings, name_i, f"{what}.name")
            source = _string(strings, source_i, f"{what}.source")
            graph.nodes.append(Node(op_schema.name, inputs, outputs, attrs, source, node_name))
        for k in range(out_count):
            graph.outputs.append(value_at(g, out_begin + k, f"graph[{g}] output {k}"))

    _expand_shared_subgraphs(graphs, children, references)
    # Constants no graph reads stay with the main graph, so a round trip keeps them.
    for vid in constant_arrays:
        if not any(vid in local for local in local_constants):
            constant_in(0, vid, f"value[{vid}]")
    if any(v.symbols is not None for v in values):
        _resolve_symbolic_shapes(graphs[0], symbol_sizes or {})
    verify_graph(graphs[0], ArchiveError)
    return graphs[0]


# A subgraph several GRAPH attributes share is copied once per further owner (the IR keeps
# every graph's values its own); a file that would expand to more graphs than this is refused.
MAX_EXPANDED_SUBGRAPHS = 4096


def _expand_shared_subgraphs(graphs: List[Graph], children: List[List[int]], references: List[int]) -> None:
    """Cycles of GRAPH attributes are rejected (Kahn's algorithm, iterative, as the C++ loader
    does); a subgraph referenced more than once gets a copy per further reference. Graphs no
    attribute reaches from graph 0 never run and are left out."""
    indegree = list(references)
    ready = [g for g in range(len(graphs)) if indegree[g] == 0]
    order = []
    while ready:
        g = ready.pop()
        order.append(g)
        for child in children[g]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) != len(graphs):
        cyclic = next(g for g in range(len(graphs)) if indegree[g] > 0)
        _fail(f"graph[{cyclic}] is part of a cycle of GRAPH attributes (a subgraph that contains itself)")
    instances = [0] * len(graphs)
    instances[0] = 1
    for g in order:
        for child in children[g]:
            instances[child] += instances[g]
    total = sum(instances)
    if total > MAX_EXPANDED_SUBGRAPHS:
        raise LimitError(f"shared subgraphs expand to {total} graphs; this reader expands at most "
                         f"{MAX_EXPANDED_SUBGRAPHS}")
    claimed = set()
    stack = [graphs[0]]
    while stack:
        for node in stack.pop().nodes:
            for name, sub in node.subgraphs():
                if id(sub) in claimed:
                    memo = {id(a): a for g in sub.all_graphs() for a in g.constants.values()}
                    sub = node.attrs[name] = copy.deepcopy(sub, memo)
                claimed.add(id(sub))
                stack.append(sub)


def read_bytes(data) -> Archive:
    view = memoryview(data).cast("B")
    version, sections = _read_header(view)
    strings = _read_strings(view, sections[fmt.SECTION_STRINGS])
    tensors = _read_tensors(view, sections[fmt.SECTION_TENSORS], sections[fmt.SECTION_WEIGHTS], strings)
    meta_section = sections[fmt.SECTION_METADATA]
    metadata, metadata_error = {}, None
    try:
        metadata = json.loads(bytes(view[meta_section.offset:meta_section.offset + meta_section.size]).decode("utf-8"))
        if not isinstance(metadata, dict):
            metadata, metadata_error = {}, "METADATA is not a JSON object"
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        # Readers must not depend on metadata to run the model: report, do not fail.
        metadata_error = f"METADATA is not valid UTF-8 JSON: {e}"
    # Export-time sizes of the symbols (dynamic shapes), only to print concrete example shapes.
    symbol_sizes = metadata.get("symbols") if isinstance(metadata.get("symbols"), dict) else None
    graph = _read_graph(view, sections[fmt.SECTION_GRAPH], strings, tensors, symbol_sizes)
    test_vectors = None
    if fmt.SECTION_TEST_VECTORS in sections:
        tv = sections[fmt.SECTION_TEST_VECTORS]
        test_vectors = parse_test_vectors(view, tv.offset, tv.size, version[1], tensors, graph, _fail)
    packed_weights = []
    if SECTION_PACKED_WEIGHTS in sections:
        pw, g = sections[SECTION_PACKED_WEIGHTS], sections[fmt.SECTION_GRAPH]
        # The tensors constant values reference (value entries: kind at +4, tensor at +16).
        (value_count,) = struct.unpack_from("<I", view, g.offset)
        constant_tensors = set()
        for v in range(value_count):
            kind, tensor = struct.unpack_from("<I8xI", view, g.offset + fmt.GRAPH_HEADER_SIZE + 96 * v + 4)
            if kind == fmt.VALUE_CONSTANT:
                constant_tensors.add(tensor)
        packed_weights = parse_packed_weights(view, pw.offset, pw.size, version[1], tensors, constant_tensors, _fail)
    tensor_crcs = None
    if SECTION_TENSOR_CRCS in sections:
        tc = sections[SECTION_TENSOR_CRCS]
        tensor_crcs = parse_tensor_crcs(view, tc.offset, tc.size, version[1], tensors, _fail)
    return Archive(version, len(view), sections, graph, metadata, metadata_error, test_vectors, packed_weights,
                   tensor_crcs)


def read(path) -> Archive:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ArchiveIOError(f"cannot read archive '{path}': {e.strerror or e}") from None
    return read_bytes(data)


def read_graph(path) -> Graph:
    return read(path).graph
