"""Export -> archive bytes -> runtime, checked against docs/archive-format.md and torch.

The archive is read here by an independent parser (dkr_archive.py) so that the
writer is checked against the spec, not against deploykit's own reader.
"""

import datetime
import time

import numpy as np
import pytest
import torch

import deploykit
from dkr_archive import (
    DTYPE_SIZES,
    HEADER_SIZE,
    KIND_GRAPH,
    KIND_STRINGS,
    KIND_TENSORS,
    KIND_WEIGHTS,
    MAGIC,
    SECTION_ENTRY_SIZE,
    SECTION_KINDS,
    BYTE_ORDER_MARK,
    crc32c,
    header_crc,
    read_archive,
)
from helpers import assert_close_to_torch, check_parity, torch_reference
from models import TwoInputTwoOutput, make_tiny_bn_net, make_tiny_conv_net

TINY_SHAPE = (1, 3, 8, 8)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """TinyConvNet exported once: (path, bytes, model, example input)."""
    model = make_tiny_conv_net()
    x = torch.randn(*TINY_SHAPE, generator=torch.Generator().manual_seed(3))
    path = tmp_path_factory.mktemp("roundtrip") / "tiny.dkr"
    deploykit.export(model, (x,), str(path))
    return path, path.read_bytes(), model, x


# --- runtime round trip ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [make_tiny_conv_net, make_tiny_bn_net], ids=["conv_net", "bn_net"])
def test_export_load_matches_torch(make, archive_dir, torch_gen):
    check_parity(make(), (torch.randn(2, 3, 8, 8, generator=torch_gen),), archive_dir / "m.dkr")


def test_export_returns_graph(tmp_path):
    graph = deploykit.export(make_tiny_conv_net(), (torch.randn(*TINY_SHAPE),), str(tmp_path / "g.dkr"))
    assert graph is not None, "deploykit.export must return the IR graph it wrote"


def test_two_inputs_two_outputs(archive_dir, torch_gen):
    a = torch.randn(2, 3, 4, 4, generator=torch_gen)
    b = torch.randn(2, 3, 4, 4, generator=torch_gen)
    out = check_parity(TwoInputTwoOutput().eval(), (a, b), archive_dir / "two.dkr")
    assert isinstance(out, tuple) and len(out) == 2
    module = deploykit.load(str(archive_dir / "two.dkr"))
    assert [tuple(s) for _, _, s in module.inputs] == [(2, 3, 4, 4), (2, 3, 4, 4)]
    assert [tuple(s) for _, _, s in module.outputs] == [(2, 3, 4, 4), (2, 6, 4, 4)]
    # Inputs are positional: swapping them must change the first output.
    swapped = module(b.numpy(), a.numpy())
    assert not np.allclose(swapped[0], out[0])


def test_export_accepts_scriptmodule_and_pt_path(tiny, tmp_path):
    _, _, model, x = tiny
    expected = torch_reference(model, (x,))
    traced = torch.jit.trace(model, x)
    deploykit.export(traced, (x,), str(tmp_path / "from_script.dkr"))
    assert_close_to_torch(deploykit.load(str(tmp_path / "from_script.dkr"))(x.numpy()), expected)

    pt = tmp_path / "tiny.pt"
    torch.jit.save(traced, str(pt))
    deploykit.export(str(pt), (x,), str(tmp_path / "from_pt.dkr"))
    assert_close_to_torch(deploykit.load(str(tmp_path / "from_pt.dkr"))(x.numpy()), expected)


def test_module_properties(tiny):
    path, _, _, _ = tiny
    module = deploykit.load(str(path))
    assert len(module.inputs) == 1 and len(module.outputs) == 1
    (in_name, in_dtype, in_shape), (out_name, out_dtype, out_shape) = module.inputs[0], module.outputs[0]
    assert isinstance(in_name, str) and isinstance(out_name, str)
    assert in_dtype in ("f32", "float32") and out_dtype in ("f32", "float32")
    assert tuple(in_shape) == TINY_SHAPE and tuple(out_shape) == (1, 5)
    # The arena holds at least the conv output (1x4x8x8 f32) between conv and pool.
    assert isinstance(module.arena_bytes, int) and module.arena_bytes >= 4 * 8 * 8 * 4
    assert isinstance(module.metadata, dict)
    assert module.metadata == read_archive(path.read_bytes()).metadata()


# --- bytes on disk vs the spec -------------------------------------------------------------


def test_header_fields(tiny):
    _, data, _, _ = tiny
    h = read_archive(data).header
    assert h.magic == MAGIC
    assert (h.version_major, h.version_minor) == (1, 0)
    assert h.byte_order == BYTE_ORDER_MARK and data[12:16] == b"\x0d\x0c\x0b\x0a"
    assert h.header_size == HEADER_SIZE
    assert h.section_count == 5
    assert h.section_table_offset == 64
    assert h.file_size == len(data)
    assert h.flags == 0
    assert h.reserved == b"\0" * 16
    assert h.header_crc == header_crc(data, h), "header_crc does not cover header + section table as specified"


def test_sections_aligned_complete_and_checksummed(tiny):
    _, data, _, _ = tiny
    a = read_archive(data)
    table_end = a.header.section_table_offset + SECTION_ENTRY_SIZE * a.header.section_count
    assert sorted(s.kind for s in a.sections) == list(SECTION_KINDS), "each kind exactly once"
    assert [s.kind for s in a.sections] == list(SECTION_KINDS), "writer emits sections in kind order"
    previous_end = table_end
    for s in sorted(a.sections, key=lambda s: s.offset):
        assert s.offset % 64 == 0, f"section {s.kind} at {s.offset} is not 64-byte aligned"
        assert s.offset >= previous_end, f"section {s.kind} overlaps what precedes it"
        assert data[previous_end : s.offset] == b"\0" * (s.offset - previous_end), "padding must be zero"
        assert s.flags == 0 and s.reserved == 0
        assert s.crc == crc32c(data[s.offset : s.offset + s.size]), f"section {s.kind} crc mismatch"
        previous_end = s.offset + s.size
    assert previous_end == len(data), "the file must end exactly where the last section ends"


def test_tensors_aligned_sized_and_equal_to_parameters(tiny):
    _, data, model, _ = tiny
    a = read_archive(data)
    strings = a.strings()
    assert strings[0] == ""
    weights = a.by_kind[KIND_WEIGHTS]
    tensors = a.tensors()
    taken = []
    for t in tensors:
        assert t.dtype in DTYPE_SIZES and 0 <= t.rank <= 8 and t.flags == 0
        assert all(d == 0 for d in t.dims[t.rank :]), "dims past rank must be zero"
        assert t.data_offset % 64 == 0 and (weights.offset + t.data_offset) % 64 == 0
        assert t.nbytes == t.numel * DTYPE_SIZES[t.dtype]
        assert t.data_offset + max(t.nbytes, 1) <= weights.size
        taken.append((t.data_offset, t.data_offset + max(t.nbytes, 1)))
    taken.sort()
    assert all(end <= nxt for (_, end), (nxt, _) in zip(taken, taken[1:])), "tensor data ranges overlap"

    # TinyConvNet has no BatchNorm to fold: every parameter must be stored verbatim (f32 LE, C order).
    stored = {(t.shape, a.tensor_data(t)) for t in tensors if t.dtype == 1}
    for name, p in model.named_parameters():
        blob = p.detach().numpy().astype("<f4").tobytes()
        assert (tuple(p.shape), blob) in stored, f"parameter {name} {tuple(p.shape)} not stored verbatim"


def test_graph_section_size_follows_counts(tiny):
    _, data, _, _ = tiny
    a = read_archive(data)
    c = a.graph_counts()
    expected = (
        64 + 96 * c["value_count"] + 48 * c["node_count"] + 32 * c["graph_count"] + 24 * c["attr_count"]
        + 8 * c["int_count"] + 8 * c["float_count"] + 4 * c["index_count"]
    )
    assert a.by_kind[KIND_GRAPH].size == expected
    assert c["graph_count"] >= 1
    # conv2d(1), relu(3), max_pool2d(5), flatten(8) or reshape(13), linear(9): only codes from docs/ops.md.
    ops = a.node_ops()
    assert set(ops) <= set(range(1, 17)), f"unknown op codes {ops}"
    assert {1, 5, 9} <= set(ops), f"conv2d, max_pool2d and linear expected among {ops}"
    if c["graph_count"] == 1:
        assert a.main_graph_node_count() == len(ops)


def test_metadata(tiny):
    _, data, _, _ = tiny
    meta = read_archive(data).metadata()
    assert meta["producer"] == "deploykit"
    assert meta["producer_version"] == deploykit.__version__
    assert meta["torch_version"] == torch.__version__
    assert str(meta["format_version"]).startswith("1")
    assert meta["source"] == "trace"
    created = datetime.datetime.fromisoformat(meta["created"].replace("Z", "+00:00"))
    assert created.utcoffset() == datetime.timedelta(0), "created must be UTC"
    age = datetime.datetime.now(datetime.timezone.utc) - created
    assert datetime.timedelta(0) <= age < datetime.timedelta(hours=1), f"created {meta['created']} is not now"


def test_reexport_is_identical_except_created_timestamp(tiny, tmp_path):
    """The writer is deterministic: a second export differs at most in METADATA's 'created'."""
    _, first, model, x = tiny
    # 'created' has one-second resolution: wait so a timestamped writer really differs.
    time.sleep(1.1)
    path = tmp_path / "again.dkr"
    deploykit.export(model, (x,), str(path))
    second = path.read_bytes()
    if first == second:
        return  # a writer without a timestamp is fully deterministic
    a, b = read_archive(first), read_archive(second)
    for kind in (KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS, KIND_GRAPH):
        assert a.section_bytes(kind) == b.section_bytes(kind), f"section kind {kind} differs between exports"
    meta_a, meta_b = a.metadata(), b.metadata()
    meta_a.pop("created"), meta_b.pop("created")
    assert meta_a == meta_b, "metadata differs in more than 'created'"
    # Section table entries of the other sections (offset, size, crc) are unchanged too,
    # and so is every header field except file_size and header_crc.
    for kind in (KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS, KIND_GRAPH):
        sa, sb = a.by_kind[kind], b.by_kind[kind]
        assert (sa.offset, sa.size, sa.crc) == (sb.offset, sb.size, sb.crc), f"section table entry {kind} differs"
    assert first[:32] == second[:32] and first[40:44] == second[40:44] and first[48:64] == second[48:64]
