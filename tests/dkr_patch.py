"""Byte-level patching of a real .dkr archive, for the bad-input corpus and the sweeps.

Built on the independent spec reader tests/dkr_archive.py (not on deploykit's own
reader or writer): locate a field from docs/archive-format.md, change it, and
recompute the checksums (fix_crcs) so that the check a test reaches is the semantic
one behind the CRCs, not the CRC itself.
"""

import struct

from dkr_archive import (
    ATTR_ENTRY_SIZE,
    GRAPH_ENTRY_SIZE,
    GRAPH_HEADER_SIZE,
    KIND_GRAPH,
    KIND_STRINGS,
    KIND_TENSORS,
    NODE_ENTRY_SIZE,
    SECTION_ENTRY_SIZE,
    TENSOR_ENTRY_SIZE,
    VALUE_ENTRY_SIZE,
    crc32c,
    read_archive,
)

ATTR_TYPES = {"INT": 1, "FLOAT": 2, "INTS": 3, "FLOATS": 4, "STRING": 5, "GRAPH": 6}


class ArchivePatch:
    def __init__(self, data: bytes):
        self.b = bytearray(data)
        a = read_archive(bytes(data))
        self.sections = {s.kind: s for s in a.sections}
        self.section_entry = {s.kind: 64 + SECTION_ENTRY_SIZE * i for i, s in enumerate(a.sections)}
        self.strings = a.strings()
        self.counts = a.graph_counts()
        g = self.sections[KIND_GRAPH].offset
        c = self.counts
        self.values_at = g + GRAPH_HEADER_SIZE
        self.nodes_at = self.values_at + VALUE_ENTRY_SIZE * c["value_count"]
        self.graphs_at = self.nodes_at + NODE_ENTRY_SIZE * c["node_count"]
        self.attrs_at = self.graphs_at + GRAPH_ENTRY_SIZE * c["graph_count"]
        self.ints_at = self.attrs_at + ATTR_ENTRY_SIZE * c["attr_count"]
        self.floats_at = self.ints_at + 8 * c["int_count"]
        self.indices_at = self.floats_at + 8 * c["float_count"]

    # -- raw fields ---------------------------------------------------------------------
    def get(self, fmt: str, at: int):
        return struct.unpack_from("<" + fmt, self.b, at)[0]

    def put(self, fmt: str, at: int, value) -> "ArchivePatch":
        struct.pack_into("<" + fmt, self.b, at, value)
        return self

    # -- entries (absolute offsets) ------------------------------------------------------
    def string_entry(self, i: int) -> int:
        return self.sections[KIND_STRINGS].offset + 8 + 8 * i

    def string_at(self, i: int) -> int:
        return self.sections[KIND_STRINGS].offset + self.get("I", self.string_entry(i))

    def tensor(self, i: int) -> int:
        return self.sections[KIND_TENSORS].offset + 8 + TENSOR_ENTRY_SIZE * i

    def value(self, i: int) -> int:
        return self.values_at + VALUE_ENTRY_SIZE * i

    def node(self, i: int) -> int:
        return self.nodes_at + NODE_ENTRY_SIZE * i

    def graph(self, i: int) -> int:
        return self.graphs_at + GRAPH_ENTRY_SIZE * i

    def attr(self, i: int) -> int:
        return self.attrs_at + ATTR_ENTRY_SIZE * i

    def index_slot(self, i: int) -> int:
        return self.indices_at + 4 * i

    # -- navigation -----------------------------------------------------------------------
    def node_fields(self, i: int) -> dict:
        names = ("op", "name", "source", "input_begin", "input_count", "output_begin", "output_count",
                 "attr_begin", "attr_count")
        return dict(zip(names, struct.unpack_from("<9I", self.b, self.node(i))))

    def node_of_op(self, code: int) -> int:
        for i in range(self.counts["node_count"]):
            if self.get("I", self.node(i)) == code:
                return i
        raise KeyError(f"no node with op {code}")

    def input_value(self, node: int, k: int) -> int:
        return self.get("I", self.index_slot(self.node_fields(node)["input_begin"] + k))

    def output_value(self, node: int, k: int = 0) -> int:
        return self.get("I", self.index_slot(self.node_fields(node)["output_begin"] + k))

    def attr_of(self, node: int, name: str) -> int:
        n = self.node_fields(node)
        for k in range(n["attr_count"]):
            at = self.attr(n["attr_begin"] + k)
            if self.strings[self.get("I", at)] == name:
                return at
        raise KeyError(f"node {node} has no attribute {name}")

    def ints_entry(self, node: int, name: str, k: int) -> int:
        """Absolute offset of entry k of an INTS attribute's pool slice."""
        at = self.attr_of(node, name)
        return self.ints_at + 8 * (self.get("Q", at + 8) + k)

    def graph_io_slot(self, graph: int, which: str, k: int = 0) -> int:
        begin = self.get("I", self.graph(graph) + (12 if which == "input" else 20))
        return self.index_slot(begin + k)

    # -- checksums --------------------------------------------------------------------------
    def fix_crcs(self) -> "ArchivePatch":
        """Recomputes each section CRC, then the header CRC, as a writer would."""
        b = self.b
        count = struct.unpack_from("<I", b, 20)[0]
        for i in range(count):
            e = 64 + SECTION_ENTRY_SIZE * i
            if e + SECTION_ENTRY_SIZE > len(b):
                break
            off, size = struct.unpack_from("<QQ", b, e + 8)
            if off <= len(b) and size <= len(b) - off:
                struct.pack_into("<I", b, e + 24, crc32c(bytes(b[off : off + size])))
        struct.pack_into("<I", b, 44, 0)
        head = crc32c(bytes(b[:64]))
        table_end = 64 + SECTION_ENTRY_SIZE * count
        if table_end <= len(b):
            head = crc32c(bytes(b[64:table_end]), head)
        struct.pack_into("<I", b, 44, head)
        return self

    def bytes(self) -> bytes:
        return bytes(self.b)
