"""Constants of docs/archive-format.md (version 1.0), mirrored by cpp/runtime/archive/, and CRC-32C."""

from __future__ import annotations

import numpy as np

MAGIC = b"\x89DKR\r\n\x1a\n"
VERSION_MAJOR = 1
VERSION_MINOR = 0
FORMAT_VERSION = f"{VERSION_MAJOR}.{VERSION_MINOR}"
BYTE_ORDER_MARK = 0x0A0B0C0D
HEADER_SIZE = 64
SECTION_TABLE_OFFSET = 64
SECTION_ENTRY_SIZE = 32
MAX_SECTION_COUNT = 16
ALIGNMENT = 64
NONE = 0xFFFFFFFF
MAX_RANK = 8

# Section kinds, in the order the writer emits them.
SECTION_STRINGS = 1
SECTION_TENSORS = 2
SECTION_WEIGHTS = 3
SECTION_GRAPH = 4
SECTION_METADATA = 5
SECTION_KINDS = (SECTION_STRINGS, SECTION_TENSORS, SECTION_WEIGHTS, SECTION_GRAPH, SECTION_METADATA)
# Optional, format 1.1: sample inputs and PyTorch's outputs (archive/test_vectors.py).
SECTION_TEST_VECTORS = 6
VERSION_MINOR_TEST_VECTORS = 1
# Format 1.2: value entries may have symbolic dims (dynamic shapes). flags bit 0 marks
# them; a symbolic dim is stored as -(1 + s), s the string index of the symbol's name
# (0, i.e. dim -1: dynamic without a name).
VERSION_MINOR_DYNAMIC = 2
# Format 1.3: control flow and scalars: ops 17-26 (if, loop, sub, div, compare,
# logical_not, logical, sum, cast, size) and i64/bool values (docs/archive-format.md,
# Versioning). The writer writes the highest minor whose feature the archive uses.
VERSION_MINOR_CONTROL_FLOW = 3
FIRST_CONTROL_FLOW_OP = 17
VALUE_FLAG_SYMBOLIC = 1
SECTION_NAMES = {1: "STRINGS", 2: "TENSORS", 3: "WEIGHTS", 4: "GRAPH", 5: "METADATA", 6: "TEST_VECTORS",
                 7: "PACKED_WEIGHTS",  # 7: optional, format 1.4 (archive/packed_weights.py)
                 8: "TENSOR_CRCS"}  # 8: optional, format 1.5 (archive/tensor_crcs.py)

# Fixed entry sizes.
STRINGS_HEADER_SIZE = 8
STRING_ENTRY_SIZE = 8
TENSORS_HEADER_SIZE = 8
TENSOR_ENTRY_SIZE = 96
GRAPH_HEADER_SIZE = 64
VALUE_ENTRY_SIZE = 96
NODE_ENTRY_SIZE = 48
GRAPH_ENTRY_SIZE = 32
ATTR_ENTRY_SIZE = 24
INT_ENTRY_SIZE = 8
FLOAT_ENTRY_SIZE = 8
INDEX_ENTRY_SIZE = 4

# Value kinds.
VALUE_INPUT = 1
VALUE_CONSTANT = 2
VALUE_NODE_OUTPUT = 3

# Attribute types.
ATTR_INT = 1
ATTR_FLOAT = 2
ATTR_INTS = 3
ATTR_FLOATS = 4
ATTR_STRING = 5
ATTR_GRAPH = 6
ATTR_TYPE_CODES = {"int": ATTR_INT, "float": ATTR_FLOAT, "ints": ATTR_INTS, "floats": ATTR_FLOATS,
                   "string": ATTR_STRING, "graph": ATTR_GRAPH}
ATTR_TYPE_NAMES = {code: name for name, code in ATTR_TYPE_CODES.items()}

# Dtypes: code -> (name, element size).
DTYPE_CODES = {"f32": 1, "f16": 2, "f64": 3, "i8": 4, "u8": 5, "i16": 6, "i32": 7, "i64": 8, "bool": 9}
DTYPE_NAMES = {code: name for name, code in DTYPE_CODES.items()}
DTYPE_SIZES = {"f32": 4, "f16": 2, "f64": 8, "i8": 1, "u8": 1, "i16": 2, "i32": 4, "i64": 8, "bool": 1}


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


# -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) ---------------------------------

_POLY = 0x82F63B78


def _make_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(v) for v in _TABLE]

# Below this size the plain byte loop is faster than setting up the lanes.
_SMALL = 1 << 14


def _crc_bytes(reg: int, data) -> int:
    """Raw register update over data (no init / final XOR)."""
    table = _TABLE_LIST
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


# The register update is linear over GF(2); running it over n zero bytes is a 32x32 bit
# matrix, stored as its 32 columns (the images of 1 << j). Large buffers are split into
# K equal chunks whose CRCs are computed in parallel numpy lanes and then combined
# pairwise: reg(A||B) = zeros(len B)(reg(A)) ^ reg0(B).


def _apply(columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    for j in range(32):
        out ^= columns[j] * ((values >> np.uint32(j)) & np.uint32(1))
    return out


def _zeros_operator_one_byte() -> np.ndarray:
    basis = np.array([1 << j for j in range(32)], dtype=np.uint32)
    return _TABLE[basis & 0xFF] ^ (basis >> np.uint32(8))


_Z1 = _zeros_operator_one_byte()


def _zeros_operator(nbytes: int) -> np.ndarray:
    """Columns of the operator that runs the register over nbytes zero bytes."""
    result = np.array([1 << j for j in range(32)], dtype=np.uint32)  # identity
    square = _Z1.copy()
    while nbytes:
        if nbytes & 1:
            result = _apply(square, result)
        square = _apply(square, square)
        nbytes >>= 1
    return result


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C of data (bytes-like). Pass a previous result as crc to continue a running CRC."""
    buffer = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    reg = (crc ^ 0xFFFFFFFF) & 0xFFFFFFFF
    n = buffer.size
    if n < _SMALL:
        return _crc_bytes(reg, buffer.tobytes()) ^ 0xFFFFFFFF
    lanes = 1
    while lanes < 65536 and n // (lanes * 2) >= 1024:
        lanes *= 2
    chunk = n // lanes
    body = buffer[: lanes * chunk].reshape(lanes, chunk).T.copy()  # row i = byte i of every lane
    regs = np.zeros(lanes, dtype=np.uint32)
    mask = np.uint32(0xFF)
    shift = np.uint32(8)
    for row in body:
        regs = _TABLE[(regs ^ row) & mask] ^ (regs >> shift)
    span = chunk
    zeros = _zeros_operator(span)
    while regs.size > 1:
        regs = _apply(zeros, regs[0::2]) ^ regs[1::2]
        span *= 2
        zeros = _apply(zeros, zeros)  # operator for the doubled span
    # zeros now runs over span = lanes * chunk bytes: apply the initial register to it.
    reg = int(_apply(zeros, np.array([reg], dtype=np.uint32))[0] ^ regs[0])
    reg = _crc_bytes(reg, buffer[lanes * chunk:].tobytes())
    return reg ^ 0xFFFFFFFF
