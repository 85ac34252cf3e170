"""The optional TENSOR_CRCS section (kind 8, format 1.5; docs/archive-format.md).

One CRC-32C per tensor, over its ``nbytes`` of data, so that a runtime checks only the
tensors it reads instead of the whole WEIGHTS section: a prepacked archive keeps every raw
weight next to its packed copy, and a runtime that uses the packed bytes in place never
reads the raw ones. The writer adds it with PACKED_WEIGHTS (packed_weights.add_to_archive);
the WEIGHTS section CRC stays valid for readers before 1.5 and for full verification.
"""

import struct
from typing import List, Sequence

import numpy as np

from . import format as fmt

SECTION_TENSOR_CRCS = 8
VERSION_MINOR_TENSOR_CRCS = 5
HEADER_SIZE = 8


def tensor_crcs(tensors_section: bytes, weights) -> List[int]:
    """The CRC of every tensor of a TENSORS section payload, its data in the WEIGHTS payload."""
    (count,) = struct.unpack_from("<I", tensors_section, 0)
    view = memoryview(weights)
    crcs = []
    for i in range(count):
        data_offset, nbytes = struct.unpack_from("<QQ", tensors_section,
                                                 fmt.TENSORS_HEADER_SIZE + fmt.TENSOR_ENTRY_SIZE * i + 16)
        crcs.append(fmt.crc32c(view[data_offset:data_offset + nbytes]))
    return crcs


def pack(crcs: Sequence[int]) -> bytes:
    return struct.pack(f"<II{len(crcs)}I", len(crcs), 0, *crcs)


def parse(data, offset: int, size: int, minor: int, tensors, fail) -> List[int]:
    """Verifies the section as the C++ reader does (header, count = tensor count, exact size),
    then every tensor's CRC (this reader reads every tensor anyway); `tensors[i]` is
    (name, dtype, shape, array), the array a copy of the tensor's bytes."""
    def error(message: str):
        fail(f"TENSOR_CRCS: {message}")

    if minor < VERSION_MINOR_TENSOR_CRCS:
        error(f"the section needs format version 1.5 or later, the archive is 1.{minor}")
    if size < HEADER_SIZE:
        error(f"section is {size} bytes, shorter than its 8-byte header")
    count, reserved = struct.unpack_from("<II", data, offset)
    if reserved:
        error("reserved field at section offset 4 is not zero")
    if count != len(tensors):
        error(f"count {count} != tensor count {len(tensors)}")
    if size != HEADER_SIZE + 4 * count:
        error(f"count {count} implies {HEADER_SIZE + 4 * count} bytes, the section has {size}")
    crcs = list(struct.unpack_from(f"<{count}I", data, offset + HEADER_SIZE))
    for i, ((name, _, _, array), stored) in enumerate(zip(tensors, crcs)):
        raw = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        actual = fmt.crc32c(raw)
        if actual != stored:
            error(f"tensor {i} '{name}': stored crc 0x{stored:08X}, its {raw.size} bytes have 0x{actual:08X}")
    return crcs
