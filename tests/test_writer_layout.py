"""Byte layout of the archive writer against docs/archive-format.md, and the pure-Python
reader's rejection of malformed files. No torch needed: graphs are built by hand."""

import json
import struct

import numpy as np
import pytest

from deploykit.archive import format as fmt
from deploykit.archive.reader import read_bytes
from deploykit.archive.writer import serialize
from deploykit.errors import ArchiveError, DeployError, ExportError, UnsupportedError
from deploykit.ir.graph import Graph
from deploykit.ir.printer import format_graph

META = {"producer": "deploykit", "source": "test"}


def small_graph():
    """x[1,2,4,4] -> conv2d -> relu -> cat with a zero-size constant -> flatten."""
    g = Graph("main")
    x = g.add_input("x", "f32", (1, 2, 4, 4))
    w = g.add_constant("conv.weight", np.arange(3 * 2 * 3 * 3, dtype=np.float32).reshape(3, 2, 3, 3))
    b = g.add_constant("conv.bias", np.array([0.5, -1.0, 2.0], dtype=np.float32))
    empty = g.add_constant("empty", np.zeros((1, 0, 4, 4), dtype=np.float32))
    conv = g.add_node("conv2d", [x, w, b], [("y", "f32", (1, 3, 4, 4))],
                      {"stride": [1, 1], "pads": [1, 1, 1, 1], "dilation": [1, 1], "groups": 1},
                      source="model.py:3", name="conv").output
    relu = g.add_node("relu", [conv], [("r", "f32", (1, 3, 4, 4))]).output
    cat = g.add_node("cat", [relu, empty], [("c", "f32", (1, 3, 4, 4))], {"axis": 1}).output
    total = g.add_node("add", [cat, cat], [("s", "f32", (1, 3, 4, 4))], {"alpha": 0.25}).output
    out = g.add_node("flatten", [total], [("out", "f32", (1, 48))], {"start_dim": 1, "end_dim": 3}).output
    g.outputs.append(out)
    return g


def sections_of(data):
    count = struct.unpack_from("<I", data, 20)[0]
    return [struct.unpack_from("<IIQQII", data, 64 + 32 * i) for i in range(count)]


def section_bytes(data, kind):
    for k, _, offset, size, _, _ in sections_of(data):
        if k == kind:
            return data[offset:offset + size]
    raise AssertionError(kind)


def test_crc32c_check_value_and_large_buffers():
    assert fmt.crc32c(b"123456789") == 0xE3069283
    assert fmt.crc32c(b"") == 0
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=3 * (1 << 20) + 13, dtype=np.uint8).tobytes()
    # The lane-parallel path must equal the byte-at-a-time definition, also when continued.
    slow = fmt._crc_bytes(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert fmt.crc32c(data) == slow
    assert fmt.crc32c(data[1000:], fmt.crc32c(data[:1000])) == slow


def test_header_bytes():
    data = serialize(small_graph(), META)
    assert data[0:8] == bytes([0x89, 0x44, 0x4B, 0x52, 0x0D, 0x0A, 0x1A, 0x0A])
    assert data[8:12] == bytes([1, 0, 0, 0])  # version 1.0
    assert data[12:16] == bytes([0x0D, 0x0C, 0x0B, 0x0A])
    assert data[16:20] == bytes([64, 0, 0, 0])
    assert data[20:24] == bytes([5, 0, 0, 0])
    assert data[24:32] == (64).to_bytes(8, "little")
    assert data[32:40] == len(data).to_bytes(8, "little")
    assert data[40:44] == bytes(4)
    assert data[48:64] == bytes(16)
    stored = struct.unpack_from("<I", data, 44)[0]
    assert stored == fmt.crc32c(data[0:44] + bytes(4) + data[48:64] + data[64:64 + 5 * 32])


def test_section_table_and_alignment():
    data = serialize(small_graph(), META)
    table = sections_of(data)
    assert [t[0] for t in table] == [1, 2, 3, 4, 5]
    assert table[0][2] == 256  # 64 + 5*32 = 224, rounded up to 64
    end = 0
    for kind, flags, offset, size, crc, reserved in table:
        assert flags == 0 and reserved == 0
        assert offset % 64 == 0 and offset >= end
        assert data[end:offset] == bytes(offset - end) or end == 0
        assert crc == fmt.crc32c(data[offset:offset + size])
        end = offset + size
    assert end == len(data)  # the file ends where the last section ends
    assert json.loads(section_bytes(data, 5)) == META


def test_strings_are_deduplicated_and_string_zero_is_empty():
    data = serialize(small_graph(), META)
    s = section_bytes(data, 1)
    count = struct.unpack_from("<I", s, 0)[0]
    strings = []
    for i in range(count):
        offset, length = struct.unpack_from("<II", s, 8 + 8 * i)
        assert s[offset + length] == 0
        strings.append(s[offset:offset + length].decode())
    assert strings[0] == ""
    assert len(set(strings)) == len(strings)
    assert {"x", "conv.weight", "model.py:3", "conv", "stride", "alpha", "main"} <= set(strings)


def test_tensor_table_and_weights():
    g = small_graph()
    data = serialize(g, META)
    t = section_bytes(data, 2)
    weights = section_bytes(data, 3)
    count = struct.unpack_from("<I", t, 0)[0]
    assert count == 3 and len(t) == 8 + 96 * 3
    owned = []
    for i, (name, array) in enumerate(g.constants.items()):
        _, dtype, rank, flags, offset, nbytes = struct.unpack_from("<IIIIQQ", t, 8 + 96 * i)
        dims = struct.unpack_from("<8q", t, 8 + 96 * i + 32)
        assert (dtype, rank, flags) == (1, array.ndim, 0)
        assert list(dims) == list(array.shape) + [0] * (8 - array.ndim)
        assert offset % 64 == 0 and nbytes == array.nbytes
        assert weights[offset:offset + nbytes] == array.tobytes()
        owned.append((offset, offset + max(nbytes, 1)))
    owned.sort()
    assert all(a[1] <= b[0] for a, b in zip(owned, owned[1:]))  # zero-size tensor owns a byte too


def test_graph_section_size_and_attribute_encoding():
    g = small_graph()
    data = serialize(g, META)
    s = section_bytes(data, 4)
    v, n, gc, a, i, f, x = struct.unpack_from("<7I", s, 0)
    assert (v, n, gc) == (1 + 3 + 5, 5, 1)
    assert len(s) == 64 + 96 * v + 48 * n + 32 * gc + 24 * a + 8 * i + 8 * f + 4 * x
    attrs_at = 64 + 96 * v + 48 * n + 32 * gc
    # Node 3 (add) has one FLOAT attribute: alpha = 0.25 as f64 bits.
    node3 = struct.unpack_from("<9I", s, 64 + 96 * v + 48 * 3)
    assert node3[0] == 4 and node3[8] == 1
    name, kind, bits, b = struct.unpack_from("<IIdQ", s, attrs_at + 24 * node3[7])
    assert (kind, bits, b) == (fmt.ATTR_FLOAT, 0.25, 0)
    # The conv node: op 1, 3 inputs, source string set.
    node0 = struct.unpack_from("<9I", s, 64 + 96 * v)
    assert node0[0] == 1 and node0[4] == 3 and node0[8] == 4


def test_round_trip():
    g = small_graph()
    archive = read_bytes(serialize(g, META))
    assert format_graph(archive.graph) == format_graph(g)
    for name, array in g.constants.items():
        np.testing.assert_array_equal(archive.graph.constants[name], array)
    assert archive.graph.nodes[0].source == "model.py:3" and archive.graph.nodes[0].name == "conv"
    assert archive.metadata == META and archive.version == (1, 0)


def test_optional_inputs_are_written_as_none():
    g = Graph()
    x = g.add_input("x", "f32", (1, 2, 3, 3))
    w = g.add_constant("w", np.ones((2, 2, 1, 1), np.float32))
    g.outputs.append(g.add_node("conv2d", [x, w, None], [("y", "f32", (1, 2, 3, 3))],
                                {"stride": [1, 1], "pads": [0, 0, 0, 0], "dilation": [1, 1], "groups": 1}).output)
    data = serialize(g, META)
    s = section_bytes(data, 4)
    v, n, gc, a, i, f, x_count = struct.unpack_from("<7I", s, 0)
    indices = struct.unpack_from(f"<{x_count}I", s, len(s) - 4 * x_count)
    assert indices[2] == fmt.NONE
    assert read_bytes(data).graph.nodes[0].inputs[2] is None


def test_writer_refuses_invalid_graphs():
    g = small_graph()
    g.nodes[0].attrs["groups"] = 0
    with pytest.raises(ExportError, match="groups"):
        serialize(g, META)
    g = small_graph()
    g.nodes[1].outputs[0].shape = (1, 3, 4, 5)
    with pytest.raises(ExportError, match="shape inference"):
        serialize(g, META)


def test_reader_rejects_malformed_archives():
    data = serialize(small_graph(), META)
    with pytest.raises(ArchiveError, match="magic"):
        read_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(UnsupportedError, match="version"):
        read_bytes(data[:8] + b"\x02" + data[9:])
    with pytest.raises(ArchiveError, match="file_size"):
        read_bytes(data + b"\x00")
    weights = sections_of(data)[2]
    flipped = bytearray(data)
    flipped[weights[2]] ^= 0x01
    with pytest.raises(ArchiveError, match="crc"):
        read_bytes(bytes(flipped))


def test_every_truncation_and_header_byte_flip_is_a_typed_error():
    data = serialize(small_graph(), META)
    for cut in list(range(0, 400)) + [len(data) - 1]:
        with pytest.raises(DeployError):
            read_bytes(data[:cut])
    for pos in range(0, 64 + 5 * 32):
        flipped = bytearray(data)
        flipped[pos] ^= 0x40
        with pytest.raises(DeployError):
            read_bytes(bytes(flipped))
