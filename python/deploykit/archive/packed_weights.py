"""The optional PACKED_WEIGHTS section (kind 7, format 1.4; docs/archive-format.md).

Conv/linear weights packed at export, by the C++ runtime's own packing routines
(``_runtime.prepack``), so that a runtime at the same ISA level reads them in place from
the memory map instead of packing them into fresh memory at load. Each entry names the
source constant's tensor, the layout code and its params, the ISA code of the kernels that
packed it, and a data tensor (an f32 1-d TENSORS entry no value references) with the bytes.
"""

import json
import struct
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from ..errors import ExportError
from . import format as fmt

SECTION_PACKED_WEIGHTS = 7
VERSION_MINOR_PACKED_WEIGHTS = 4
HEADER_SIZE = 16
ENTRY_SIZE = 48
ENTRY_FORMAT = "<II3qIII4x"  # source, layout, params[3], isa, reserved, data tensor, reserved
LAYOUTS = {1: "conv-gemm", 2: "gemv", 3: "winograd"}
ISAS = {1: "scalar", 2: "avx2", 3: "avx512"}


@dataclass
class PackedWeight:
    source_tensor: int
    layout: int
    params: Tuple[int, int, int]
    isa: int
    data_tensor: int


def pack(entries: Sequence[PackedWeight]) -> bytes:
    out = bytearray(struct.pack("<I12x", len(entries)))
    for e in entries:
        out += struct.pack(ENTRY_FORMAT, e.source_tensor, e.layout, *e.params, e.isa, 0, e.data_tensor)
    return bytes(out)


def parse(data, offset: int, size: int, minor: int, tensors, constant_tensors, fail) -> List[PackedWeight]:
    """Verifies the section as the C++ reader does; `tensors[i]` is (name, dtype, shape, array),
    `constant_tensors` the tensor indices constant values reference."""
    def error(message: str):
        fail(f"PACKED_WEIGHTS: {message}")

    if minor < VERSION_MINOR_PACKED_WEIGHTS:
        error(f"the section needs format version 1.4 or later, the archive is 1.{minor}")
    if size < HEADER_SIZE:
        error(f"section is {size} bytes, shorter than its 16-byte header")
    blob = bytes(data[offset:offset + size])
    (count,) = struct.unpack_from("<I", blob, 0)
    if any(blob[4:HEADER_SIZE]):
        error("reserved bytes of the header are not zero")
    if count == 0:
        error("count is 0, expected >= 1")
    if size != HEADER_SIZE + ENTRY_SIZE * count:
        error(f"count {count} implies {HEADER_SIZE + ENTRY_SIZE * count} bytes, the section has {size}")
    entries, keys, owners = [], {}, {}
    for i in range(count):
        at = HEADER_SIZE + ENTRY_SIZE * i
        source, layout, p0, p1, p2, isa, reserved, data_tensor = struct.unpack_from("<II3qIII", blob, at)
        if reserved or struct.unpack_from("<I", blob, at + 44)[0]:
            error(f"entry {i}: reserved fields are not zero")
        if not 0 <= source < len(tensors):
            error(f"entry {i}: source_tensor {source} >= tensor count {len(tensors)}")
        if source not in constant_tensors:
            error(f"entry {i}: source_tensor {source} is not the tensor of any constant value")
        if layout not in LAYOUTS:
            error(f"entry {i}: layout {layout} is not a layout code (expected 1..3)")
        if isa not in ISAS:
            error(f"entry {i}: isa {isa} is not an ISA code (expected 1..3: scalar, avx2, avx512)")
        if not 0 <= data_tensor < len(tensors):
            error(f"entry {i}: data_tensor {data_tensor} >= tensor count {len(tensors)}")
        _, dtype, shape, _ = tensors[data_tensor]
        if dtype != "f32" or len(shape) != 1:
            error(f"entry {i}: data_tensor {data_tensor} is {dtype} of rank {len(shape)}, expected f32 of rank 1")
        if data_tensor in constant_tensors:
            error(f"entry {i}: data_tensor {data_tensor} is referenced by a constant value, expected unreferenced")
        if data_tensor in owners:
            error(f"entry {i}: data_tensor {data_tensor} is already the data of entry {owners[data_tensor]}")
        owners[data_tensor] = i
        key = (source, layout, p0, p1, p2, isa)
        if key in keys:
            error(f"entry {i}: duplicate key of entry {keys[key]}")
        keys[key] = i
        entries.append(PackedWeight(source, layout, (p0, p1, p2), isa, data_tensor))
    return entries


def add_to_archive(data: bytes, records) -> bytes:
    """The archive `data` (as the writer made it) with `records` from ``_runtime.prepack``
    ((source tensor, layout, params, isa, packed bytes), ...) stored as a PACKED_WEIGHTS
    section and one new tensor each; the raw weights stay (for other ISA levels and tools).
    A TENSOR_CRCS section (format 1.5) follows, so that a runtime using the packed weights
    in place checks only what it reads, not the raw weights too."""
    from . import tensor_crcs
    from .writer import _assemble

    minor, section_count = struct.unpack_from("<H8xI", data, 10)
    sections = []
    for i in range(section_count):
        kind, _, offset, size, _, _ = struct.unpack_from("<IIQQII", data, fmt.SECTION_TABLE_OFFSET + 32 * i)
        if kind == SECTION_PACKED_WEIGHTS:
            raise ExportError("the archive already has a PACKED_WEIGHTS section")
        if kind == tensor_crcs.SECTION_TENSOR_CRCS:
            continue  # rewritten below: the tensor table grows
        sections.append([kind, bytes(data[offset:offset + size])])
    if not records:
        return data
    payload = {kind: i for i, (kind, _) in enumerate(sections)}
    tensors = bytearray(sections[payload[fmt.SECTION_TENSORS]][1])
    weights = bytearray(sections[payload[fmt.SECTION_WEIGHTS]][1])
    (tensor_count,) = struct.unpack_from("<I", tensors, 0)
    entries = []
    for source, layout, params, isa, packed in records:
        if len(packed) % 4:
            raise ExportError(f"prepacked weight of tensor {source} is {len(packed)} bytes, not whole f32s")
        data_offset = fmt.align_up(len(weights))
        weights += bytes(data_offset - len(weights)) + packed
        if not packed:
            weights += b"\0"  # a zero-size tensor still owns one byte
        tensors += struct.pack("<IIIIQQ", 0, fmt.DTYPE_CODES["f32"], 1, 0, data_offset, len(packed))
        tensors += struct.pack("<8q", len(packed) // 4, *([0] * 7))
        entries.append(PackedWeight(source, layout, tuple(params), isa, tensor_count + len(entries)))
    struct.pack_into("<I", tensors, 0, tensor_count + len(entries))
    sections[payload[fmt.SECTION_TENSORS]][1] = bytes(tensors)
    sections[payload[fmt.SECTION_WEIGHTS]][1] = bytes(weights)
    minor = max(minor, tensor_crcs.VERSION_MINOR_TENSOR_CRCS)
    meta_at = payload[fmt.SECTION_METADATA]
    try:
        metadata = json.loads(sections[meta_at][1].decode("utf-8"))
        metadata["format_version"] = f"{fmt.VERSION_MAJOR}.{minor}"
        sections[meta_at][1] = json.dumps(metadata, sort_keys=True).encode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass  # informative only
    sections.append([SECTION_PACKED_WEIGHTS, pack(entries)])
    sections.append([tensor_crcs.SECTION_TENSOR_CRCS,
                     tensor_crcs.pack(tensor_crcs.tensor_crcs(bytes(tensors), weights))])
    return _assemble([tuple(s) for s in sections], minor)


def prepack_archive(path, isa: str = "best") -> dict:
    """Rewrites the archive at `path` with its weights prepacked for `isa` ("best": the
    host's best level, else scalar/avx2/avx512, capped by the host and DEPLOYRT_ISA).
    Returns {"isa": name of the level that packed, "entries": count, "bytes": packed bytes}."""
    from .. import _runtime
    from ..export import write_atomically

    records = _runtime.prepack(str(path), isa)
    with open(path, "rb") as f:
        data = f.read()
    write_atomically(path, add_to_archive(data, records))
    return {"isa": ISAS[records[0][3]] if records else None, "entries": len(records),
            "bytes": sum(len(r[4]) for r in records)}
