"""An independent reader of the .dkr layout (docs/archive-format.md), written from the spec.

The tests use it to check what the writer produced without going through
deploykit's own reader, so a bug shared by writer and reader cannot hide.
Only what the tests inspect is decoded: header, section table, strings,
tensor table, graph header, value entries and graph entries.
"""

import json
import struct
from dataclasses import dataclass, field
from typing import Dict, List

MAGIC = b"\x89DKR\r\n\x1a\n"
BYTE_ORDER_MARK = 0x0A0B0C0D
HEADER_SIZE = 64
SECTION_ENTRY_SIZE = 32
TENSOR_ENTRY_SIZE = 96
GRAPH_HEADER_SIZE = 64
GRAPH_ENTRY_SIZE = 32
NODE_ENTRY_SIZE = 48
VALUE_ENTRY_SIZE = 96
ATTR_ENTRY_SIZE = 24

KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS, KIND_GRAPH, KIND_METADATA = 1, 2, 3, 4, 5
SECTION_KINDS = (KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS, KIND_GRAPH, KIND_METADATA)
KIND_PACKED_WEIGHTS = 7  # optional, format 1.4

DTYPE_SIZES = {1: 4, 2: 2, 3: 8, 4: 1, 5: 1, 6: 2, 7: 4, 8: 8, 9: 1}


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), as the spec defines it. Pure Python: fine for small test archives."""
    crc ^= 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "CRC-32C self-check against the spec's test vector"


@dataclass
class Header:
    magic: bytes
    version_major: int
    version_minor: int
    byte_order: int
    header_size: int
    section_count: int
    section_table_offset: int
    file_size: int
    flags: int
    header_crc: int
    reserved: bytes

    @classmethod
    def parse(cls, data: bytes) -> "Header":
        fields = struct.unpack_from("<8sHHIIIQQII16s", data, 0)
        return cls(*fields)


@dataclass
class Section:
    kind: int
    flags: int
    offset: int
    size: int
    crc: int
    reserved: int


@dataclass
class TensorEntry:
    name: int
    dtype: int
    rank: int
    flags: int
    data_offset: int
    nbytes: int
    dims: List[int]

    @property
    def shape(self):
        return tuple(self.dims[: self.rank])

    @property
    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n


VALUE_FLAG_SYMBOLIC = 1  # format 1.2: the value has symbolic dims


@dataclass
class ValueEntry:
    name: int
    kind: int
    dtype: int
    rank: int
    tensor: int
    flags: int
    dims: List[int]

    def symbolic_dims(self, strings: List[str]) -> List[object]:
        """Each dim: its size, or (format 1.2, flags bit 0) a symbolic dim -(1 + s) as the
        name of string s ("" for s = 0: dynamic without a name)."""
        return [d if d >= 0 or not self.flags & VALUE_FLAG_SYMBOLIC else strings[-(d + 1)]
                for d in self.dims[: self.rank]]


@dataclass
class Archive:
    data: bytes
    header: Header
    sections: List[Section]
    by_kind: Dict[int, Section] = field(default_factory=dict)

    def section_bytes(self, kind: int) -> bytes:
        s = self.by_kind[kind]
        return self.data[s.offset : s.offset + s.size]

    def strings(self) -> List[str]:
        blob = self.section_bytes(KIND_STRINGS)
        (count,) = struct.unpack_from("<I", blob, 0)
        out = []
        for i in range(count):
            off, length = struct.unpack_from("<II", blob, 8 + 8 * i)
            out.append(blob[off : off + length].decode("utf-8"))
        return out

    def tensors(self) -> List[TensorEntry]:
        blob = self.section_bytes(KIND_TENSORS)
        (count,) = struct.unpack_from("<I", blob, 0)
        out = []
        for i in range(count):
            base = 8 + TENSOR_ENTRY_SIZE * i
            name, dtype, rank, flags, data_offset, nbytes = struct.unpack_from("<IIIIQQ", blob, base)
            dims = list(struct.unpack_from("<8q", blob, base + 32))
            out.append(TensorEntry(name, dtype, rank, flags, data_offset, nbytes, dims))
        return out

    def tensor_data(self, t: TensorEntry) -> bytes:
        weights = self.section_bytes(KIND_WEIGHTS)
        return weights[t.data_offset : t.data_offset + t.nbytes]

    def graph_counts(self) -> Dict[str, int]:
        blob = self.section_bytes(KIND_GRAPH)
        names = ("value_count", "node_count", "graph_count", "attr_count", "int_count", "float_count", "index_count")
        return dict(zip(names, struct.unpack_from("<7I", blob, 0)))

    def main_graph_node_count(self) -> int:
        """node_count of graph 0 (the main graph), from its graph entry."""
        c = self.graph_counts()
        graphs_at = GRAPH_HEADER_SIZE + VALUE_ENTRY_SIZE * c["value_count"] + NODE_ENTRY_SIZE * c["node_count"]
        _name, _node_begin, node_count = struct.unpack_from("<III", self.section_bytes(KIND_GRAPH), graphs_at)
        return node_count

    def values(self) -> List[ValueEntry]:
        blob = self.section_bytes(KIND_GRAPH)
        out = []
        for i in range(self.graph_counts()["value_count"]):
            base = GRAPH_HEADER_SIZE + VALUE_ENTRY_SIZE * i
            fields = struct.unpack_from("<6I", blob, base)
            out.append(ValueEntry(*fields, list(struct.unpack_from("<8q", blob, base + 24))))
        return out

    def node_ops(self) -> List[int]:
        c = self.graph_counts()
        blob = self.section_bytes(KIND_GRAPH)
        base = GRAPH_HEADER_SIZE + VALUE_ENTRY_SIZE * c["value_count"]
        return [struct.unpack_from("<I", blob, base + NODE_ENTRY_SIZE * i)[0] for i in range(c["node_count"])]

    def metadata(self) -> dict:
        return json.loads(self.section_bytes(KIND_METADATA).decode("utf-8"))

    def packed_weights(self) -> List[dict]:
        """PACKED_WEIGHTS (kind 7, format 1.4) entries, checked against the spec's rules;
        ValueError names the broken rule. Empty when the archive has no such section."""
        if KIND_PACKED_WEIGHTS not in self.by_kind:
            return []
        if self.header.version_minor < 4:
            raise ValueError(f"PACKED_WEIGHTS in a 1.{self.header.version_minor} archive")
        blob = self.section_bytes(KIND_PACKED_WEIGHTS)
        (count,) = struct.unpack_from("<I", blob, 0)
        if count < 1 or any(blob[4:16]) or len(blob) != 16 + 48 * count:
            raise ValueError(f"PACKED_WEIGHTS header: count {count}, size {len(blob)}")
        tensors = self.tensors()
        constants = {v.tensor for v in self.values() if v.kind == 2}
        out, keys = [], set()
        for i in range(count):
            source, layout, p0, p1, p2, isa, r0, data, r1 = struct.unpack_from("<II3qIIII", blob, 16 + 48 * i)
            t = tensors[data]
            rules = {
                "reserved zero": r0 == 0 and r1 == 0,
                "source is a constant's tensor": source in constants,
                "layout 1..3": 1 <= layout <= 3,
                "isa 1..3": 1 <= isa <= 3,
                "data f32 rank 1": t.dtype == 1 and t.rank == 1,
                "data unreferenced": data not in constants,
                "data 64-byte aligned": t.data_offset % 64 == 0,
                "data inside WEIGHTS": t.data_offset + t.nbytes <= self.by_kind[KIND_WEIGHTS].size,
                "unique key": (source, layout, p0, p1, p2, isa) not in keys,
            }
            broken = [rule for rule, ok in rules.items() if not ok]
            if broken:
                raise ValueError(f"PACKED_WEIGHTS entry {i}: {', '.join(broken)}")
            keys.add((source, layout, p0, p1, p2, isa))
            out.append({"source": source, "layout": layout, "params": (p0, p1, p2), "isa": isa, "data": data})
        return out


def read_archive(data: bytes) -> Archive:
    header = Header.parse(data)
    sections = []
    for i in range(header.section_count):
        fields = struct.unpack_from("<IIQQII", data, header.section_table_offset + SECTION_ENTRY_SIZE * i)
        sections.append(Section(*fields))
    archive = Archive(data=data, header=header, sections=sections)
    for s in sections:
        archive.by_kind[s.kind] = s
    return archive


def header_crc(data: bytes, header: Header) -> int:
    """CRC of the 64 header bytes with header_crc read as zero, then the section table."""
    head = bytearray(data[:HEADER_SIZE])
    head[44:48] = b"\0\0\0\0"
    table_end = header.section_table_offset + SECTION_ENTRY_SIZE * header.section_count
    return crc32c(data[header.section_table_offset : table_end], crc32c(bytes(head)))
