"""Graph -> .dkr bytes, exactly as docs/archive-format.md specifies (version 1.0)."""

from __future__ import annotations

import datetime
import json
import struct
from typing import Dict, List, Optional

import numpy as np

from ..errors import ExportError
from ..ir.graph import CONSTANT, INPUT, Graph, Value, dtype_of_numpy
from ..ir.ops import FLOAT, FLOATS, INT, INTS, STRING, schema
from ..ir.verify import verify_graph
from . import format as fmt
from .test_vectors import TestVectors
from .test_vectors import pack as pack_test_vectors

_U32_MAX = 0xFFFFFFFF


class _StringTable:
    """Deduplicated strings; string 0 is the empty string."""

    def __init__(self):
        self.strings: List[bytes] = [b""]
        self.index: Dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text in self.index:
            return self.index[text]
        if "\x00" in text:
            raise ExportError(f"string {text!r} contains a NUL character, which the archive cannot store")
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ExportError(f"string {text!r} is not valid UTF-8: {e}") from None
        self.index[text] = len(self.strings)
        self.strings.append(encoded)
        return self.index[text]

    def serialize(self) -> bytes:
        count = len(self.strings)
        entries = bytearray()
        data = bytearray()
        offset = fmt.STRINGS_HEADER_SIZE + fmt.STRING_ENTRY_SIZE * count
        for s in self.strings:
            entries += struct.pack("<II", offset + len(data), len(s))
            data += s + b"\x00"
        if fmt.STRINGS_HEADER_SIZE + len(entries) + len(data) > _U32_MAX:
            raise ExportError("the string table exceeds 4 GiB")
        return struct.pack("<II", count, 0) + bytes(entries) + bytes(data)


def _dims(shape) -> bytes:
    if len(shape) > fmt.MAX_RANK:
        raise ExportError(f"rank {len(shape)} exceeds the archive's maximum rank {fmt.MAX_RANK}")
    dims = list(shape) + [0] * (fmt.MAX_RANK - len(shape))
    return struct.pack("<8q", *dims)


def _value_dims(value: Value, strings: "_StringTable"):
    """(flags, dims) of a value entry: a symbolic dim is -(1 + its name's string index), format 1.2."""
    if value.symbols is None:
        return 0, value.shape
    if value.kind == CONSTANT:
        raise ExportError(f"constant %{value.name} cannot have symbolic dims")
    dims = [d if sym is None else -(1 + strings.add(sym)) for d, sym in zip(value.shape, value.symbols)]
    return fmt.VALUE_FLAG_SYMBOLIC, dims


def default_metadata(source: str = "", torch_version: Optional[str] = None) -> dict:
    from .. import __version__

    return {
        "producer": "deploykit",
        "producer_version": __version__,
        "torch_version": torch_version or "",
        "format_version": fmt.FORMAT_VERSION,
        "source": source,
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def serialize(graph: Graph, metadata: Optional[dict] = None, test_vectors: Optional[TestVectors] = None) -> bytes:
    """The archive bytes of a verified graph. metadata defaults to default_metadata().

    With test_vectors (format 1.1), their arrays are appended to the tensor table and a
    TEST_VECTORS section lists them.
    """
    verify_graph(graph, ExportError)
    strings = _StringTable()
    # Graph 0 is the main graph; its subgraphs follow depth first, parents before children.
    graphs = graph.all_graphs()
    graph_index = {id(g): i for i, g in enumerate(graphs)}

    # -- TENSORS and WEIGHTS: one tensor per constant, each 64-byte aligned -------------
    # Constants are archive-wide (any graph may read a constant value id), so a weight that
    # a subgraph shares with its parent (same name, same array object) is stored once.
    tensor_index: Dict[tuple, int] = {}
    constant_values: List[Value] = []
    constant_arrays: Dict[int, np.ndarray] = {}  # id(constant Value) -> its data
    tensor_entries = bytearray()
    weight_chunks: List[tuple] = []
    weights_size = 0
    for g in graphs:
        for name, array in g.constants.items():
            key = (name, id(array))
            if key in tensor_index:
                continue
            value = g.values[name]
            data_offset = fmt.align_up(weights_size)
            nbytes = array.nbytes
            tensor_index[key] = len(tensor_index)
            constant_values.append(value)
            constant_arrays[id(value)] = array
            tensor_entries += struct.pack("<IIIIQQ", strings.add(name), fmt.DTYPE_CODES[value.dtype],
                                          value.rank, 0, data_offset, nbytes) + _dims(value.shape)
            weight_chunks.append((data_offset, array))
            # A zero-size tensor still owns one byte so that no two tensors share an offset.
            weights_size = data_offset + max(nbytes, 1)
    vector_tensors: List[int] = []
    for v, (inputs, outputs) in enumerate(test_vectors.vectors if test_vectors else []):
        _check_vector(graph, v, inputs, outputs)
        for kind, arrays in (("input", inputs), ("output", outputs)):
            for k, array in enumerate(arrays):
                # copy(order="C"), not ascontiguousarray: that turns a 0-d array (a scalar input) into 1-d.
                array = np.asarray(array)
                array = array if array.flags.c_contiguous else array.copy(order="C")
                data_offset = fmt.align_up(weights_size)
                vector_tensors.append(len(tensor_index) + len(vector_tensors))
                tensor_entries += struct.pack(
                    "<IIIIQQ", strings.add(f"test_vector.{v}.{kind}.{k}"), fmt.DTYPE_CODES[_dtype_name(array)],
                    array.ndim, 0, data_offset, array.nbytes) + _dims(array.shape)
                weight_chunks.append((data_offset, array))
                weights_size = data_offset + max(array.nbytes, 1)
    tensor_count = len(tensor_index) + len(vector_tensors)
    tensors_section = struct.pack("<II", tensor_count, 0) + bytes(tensor_entries)
    weights = bytearray(weights_size)
    for offset, array in weight_chunks:
        raw = np.asarray(array).reshape(-1).view(np.uint8)
        weights[offset:offset + raw.size] = raw.tobytes()

    # -- GRAPH --------------------------------------------------------------------------
    # Value ids are global across graphs: graph 0's inputs, every constant, graph 0's node
    # outputs, then each subgraph's inputs and node outputs.
    ordered_values: List[Value] = list(graph.inputs) + constant_values
    for node in graph.nodes:
        ordered_values.extend(node.outputs)
    for g in graphs[1:]:
        ordered_values.extend(g.inputs)
        for node in g.nodes:
            ordered_values.extend(node.outputs)
    value_ids: Dict[int, int] = {}
    constant_ids: Dict[tuple, int] = {}
    value_entries = bytearray()
    for value in ordered_values:
        if value.kind == CONSTANT:
            array = constant_arrays[id(value)]
            tensor = tensor_index[(value.name, id(array))]
            constant_ids[(value.name, id(array))] = len(value_ids)
        else:
            tensor = fmt.NONE
        value_ids[id(value)] = len(value_ids)
        kind = {INPUT: fmt.VALUE_INPUT, CONSTANT: fmt.VALUE_CONSTANT}.get(value.kind, fmt.VALUE_NODE_OUTPUT)
        flags, dims = _value_dims(value, strings)
        value_entries += struct.pack("<IIIIII", strings.add(value.name), kind, fmt.DTYPE_CODES[value.dtype],
                                     value.rank, tensor, flags) + _dims(dims) + bytes(8)

    def value_id(g: Graph, value: Value) -> int:
        if value.kind == CONSTANT:
            return constant_ids[(value.name, id(g.constants[value.name]))]
        return value_ids[id(value)]

    indices: List[int] = []
    ints: List[int] = []
    floats: List[float] = []
    attr_entries = bytearray()
    node_entries = bytearray()
    attr_count = 0
    node_ranges: List[tuple] = []
    node_total = 0
    for g in graphs:
        node_ranges.append((node_total, len(g.nodes)))
        node_total += len(g.nodes)
        for node in g.nodes:
            op_schema = schema(node.op)
            input_begin = len(indices)
            indices.extend(fmt.NONE if v is None else value_id(g, v) for v in node.inputs)
            output_begin = len(indices)
            indices.extend(value_ids[id(v)] for v in node.outputs)
            attr_begin = attr_count
            # Schema order: deterministic bytes, independent of how the frontend built the dict.
            for attr_name, spec in op_schema.attrs.items():
                if attr_name not in node.attrs and spec.optional:
                    continue  # an absent optional attribute takes its documented default
                value = node.attrs[attr_name]
                name_index = strings.add(attr_name)
                if isinstance(value, Graph):
                    attr_entries += struct.pack("<IIQQ", name_index, fmt.ATTR_GRAPH, graph_index[id(value)], 0)
                elif spec.type == INT:
                    attr_entries += struct.pack("<IIqQ", name_index, fmt.ATTR_INT, int(value), 0)
                elif spec.type == FLOAT:
                    attr_entries += struct.pack("<IIdQ", name_index, fmt.ATTR_FLOAT, float(value), 0)
                elif spec.type == INTS:
                    attr_entries += struct.pack("<IIQQ", name_index, fmt.ATTR_INTS, len(ints), len(value))
                    ints.extend(int(v) for v in value)
                elif spec.type == FLOATS:
                    attr_entries += struct.pack("<IIQQ", name_index, fmt.ATTR_FLOATS, len(floats), len(value))
                    floats.extend(float(v) for v in value)
                elif spec.type == STRING:
                    attr_entries += struct.pack("<IIQQ", name_index, fmt.ATTR_STRING, strings.add(value), 0)
                else:
                    raise ExportError(f"attribute type '{spec.type}' of {node.op}.{attr_name} cannot be written")
                attr_count += 1
            node_entries += struct.pack(
                "<IIIIIIIII", op_schema.code, strings.add(node.name), strings.add(node.source),
                input_begin, len(node.inputs), output_begin, len(node.outputs), attr_begin,
                attr_count - attr_begin) + bytes(12)

    graph_entries = bytearray()
    for g, (node_begin, node_count) in zip(graphs, node_ranges):
        graph_input_begin = len(indices)
        indices.extend(value_ids[id(v)] for v in g.inputs)
        graph_output_begin = len(indices)
        indices.extend(value_id(g, v) for v in g.outputs)
        graph_entries += struct.pack("<IIIIIIII", strings.add(g.name), node_begin, node_count, graph_input_begin,
                                     len(g.inputs), graph_output_begin, len(g.outputs), 0)

    counts = (len(ordered_values), node_total, len(graphs), attr_count, len(ints), len(floats), len(indices))
    if max(counts) > _U32_MAX:
        raise ExportError(f"the graph is too large for 32-bit indices (counts {counts})")
    graph_section = b"".join([
        struct.pack("<7I", *counts) + bytes(36),
        bytes(value_entries), bytes(node_entries), bytes(graph_entries), bytes(attr_entries),
        struct.pack(f"<{len(ints)}q", *ints), struct.pack(f"<{len(floats)}d", *floats),
        struct.pack(f"<{len(indices)}I", *indices),
    ])

    # -- METADATA; STRINGS last because every other section adds to it ------------------
    metadata = dict(metadata if metadata is not None else default_metadata())
    minor = fmt.VERSION_MINOR_TEST_VECTORS if test_vectors else fmt.VERSION_MINOR
    if any(v.symbols is not None for v in ordered_values):
        minor = max(minor, fmt.VERSION_MINOR_DYNAMIC)
    # Ops 17-26 or i64/bool values: format 1.3 (docs/archive-format.md, Versioning).
    if (any(v.dtype in ("i64", "bool") for v in ordered_values)
            or any(schema(n.op).code >= fmt.FIRST_CONTROL_FLOW_OP for g in graphs for n in g.nodes)):
        minor = max(minor, fmt.VERSION_MINOR_CONTROL_FLOW)
    if minor != fmt.VERSION_MINOR:
        metadata["format_version"] = f"{fmt.VERSION_MAJOR}.{minor}"
    metadata_section = json.dumps(metadata, sort_keys=True).encode("utf-8")
    strings_section = strings.serialize()

    sections = [
        (fmt.SECTION_STRINGS, strings_section),
        (fmt.SECTION_TENSORS, tensors_section),
        (fmt.SECTION_WEIGHTS, bytes(weights)),
        (fmt.SECTION_GRAPH, graph_section),
        (fmt.SECTION_METADATA, metadata_section),
    ]
    if test_vectors:
        sections.append((fmt.SECTION_TEST_VECTORS, pack_test_vectors(
            len(test_vectors.vectors), len(graph.inputs), len(graph.outputs), test_vectors.rtol, test_vectors.atol,
            vector_tensors)))
    return _assemble(sections, minor)


def _dtype_name(array: np.ndarray) -> str:
    try:
        return dtype_of_numpy(array.dtype)
    except ValueError:
        raise ExportError(f"test vector arrays must have an archive dtype, got {array.dtype}") from None


def _check_vector(graph: Graph, v: int, inputs, outputs) -> None:
    """A test vector must match the graph's inputs and outputs exactly: the runtime rejects anything else."""
    for kind, arrays, values in (("input", inputs, graph.inputs), ("output", outputs, graph.outputs)):
        if len(arrays) != len(values):
            raise ExportError(f"test vector {v}: {len(arrays)} {kind}s, the graph has {len(values)}")
        for k, (array, value) in enumerate(zip(arrays, values)):
            array = np.asarray(array)
            if _dtype_name(array) != value.dtype or tuple(array.shape) != tuple(value.shape):
                raise ExportError(f"test vector {v} {kind} {k}: {array.dtype}{list(array.shape)}, "
                                  f"the graph's '{value.name}' is {value.dtype}{list(value.shape)}")


def _assemble(sections, minor: int = fmt.VERSION_MINOR) -> bytes:
    """Header + section table + 64-aligned sections; the file ends where the last section ends."""
    table_end = fmt.SECTION_TABLE_OFFSET + fmt.SECTION_ENTRY_SIZE * len(sections)
    offset = fmt.align_up(table_end)
    placed = []
    for kind, payload in sections:
        placed.append((kind, offset, payload))
        offset = fmt.align_up(offset + len(payload))
    file_size = placed[-1][1] + len(placed[-1][2])

    table = b"".join(struct.pack("<IIQQII", kind, 0, off, len(payload), fmt.crc32c(payload), 0)
                     for kind, off, payload in placed)

    def header(crc: int) -> bytes:
        return (fmt.MAGIC + struct.pack("<HHIIIQQII", fmt.VERSION_MAJOR, minor, fmt.BYTE_ORDER_MARK,
                                        fmt.HEADER_SIZE, len(sections), fmt.SECTION_TABLE_OFFSET, file_size, 0, crc)
                + bytes(16))

    header_crc = fmt.crc32c(header(0) + table)
    out = bytearray(file_size)
    out[0:fmt.HEADER_SIZE] = header(header_crc)
    out[fmt.SECTION_TABLE_OFFSET:table_end] = table
    for _, off, payload in placed:
        out[off:off + len(payload)] = payload
    return bytes(out)


def write(graph: Graph, path, metadata: Optional[dict] = None, test_vectors: Optional[TestVectors] = None) -> int:
    """Writes the archive to path (not atomically: export.py handles that). Returns its size."""
    data = serialize(graph, metadata, test_vectors)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
