"""BAD_INPUTS.md, case by case, from Python: each malformed archive raises the exact
deploykit exception class, with a message naming the field / index / expected / actual.

The bad archives are made by patching the bytes of a REAL exported archive (a model
using every op of docs/ops.md, tests/every_op_model.py) and recomputing the CRCs
(tests/dkr_patch.py), so the check reached is the semantic one, not the checksum.
Run-time cases (21, 22, 23) compare with PyTorch.
"""

import os
import re
import struct
import threading

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import deploykit
from deploykit import ArchiveError, ArchiveIOError, InputError, LimitError, UnsupportedError
from dkr_archive import KIND_GRAPH, KIND_METADATA, KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS
from dkr_patch import ATTR_TYPES, ArchivePatch
from every_op_model import INPUT_SHAPE, export_every_op

# op codes (docs/ops.md)
CONV, BN, RELU, ADD, MAXPOOL, AVGPOOL, ADAPTIVE, FLATTEN, LINEAR, HARDTANH, SIGMOID, MUL, RESHAPE, CAT, MEAN, SOFTMAX = (
    range(1, 17))


@pytest.fixture(scope="module")
def every_op(tmp_path_factory):
    path = tmp_path_factory.mktemp("every_op") / "every_op.dkr"
    model, x = export_every_op(path)
    return model, x, path.read_bytes()


def _first_constant(p: ArchivePatch) -> int:
    for i in range(p.counts["value_count"]):
        if p.get("I", p.value(i) + 4) == 2:
            return i
    raise AssertionError("no constant value")


def _truncate_tables(p):
    """Keeps 200 bytes (inside the section table) and makes file_size agree."""
    del p.b[200:]
    return p.put("Q", 32, 200)


def _string_without_nul(p):
    last = len(p.strings) - 1
    p.b[p.string_at(last) + len(p.strings[last].encode())] = ord("x")
    return p


def _string_byte(p, index_in_string, value):
    i = max(range(len(p.strings)), key=lambda k: len(p.strings[k]))  # a long string
    p.b[p.string_at(i) + index_in_string] = value
    return p


def _overlap(p):
    return p.put("Q", p.section_entry[KIND_TENSORS] + 8, p.sections[KIND_STRINGS].offset)


def _tensor_dims(p, dims, nbytes=None):
    t = p.tensor(0)
    p.put("I", t + 8, len(dims))
    for k in range(8):
        p.put("q", t + 32 + 8 * k, dims[k] if k < len(dims) else 0)
    if nbytes is not None:
        p.put("Q", t + 24, nbytes)
    return p


def _share_tensor_bytes(p):
    return p.put("Q", p.tensor(1) + 16, p.get("Q", p.tensor(0) + 16))


def _zero_size_tensor_reuses_offset(p):
    t = p.tensor(1)
    p.put("q", t + 32, 0).put("Q", t + 24, 0)  # dims[0] = 0 -> numel 0, nbytes 0
    return p.put("Q", t + 16, p.get("Q", p.tensor(0) + 16))


def _input_x(p):
    return p.get("I", p.graph_io_slot(0, "input"))


def _input_rank_0(p):
    v = p.value(_input_x(p))
    p.b[v + 24 : v + 88] = bytes(64)
    return p.put("I", v + 12, 0)


def _node_input_is(p, node, k, value):
    return p.put("I", p.index_slot(p.node_fields(node)["input_begin"] + k), value)


def _node_output_is(p, node, value):
    return p.put("I", p.index_slot(p.node_fields(node)["output_begin"]), value)


def _cycle(p):
    relu, pool = p.node_of_op(RELU), p.node_of_op(MAXPOOL)
    return _node_input_is(p, relu, 0, p.output_value(pool))


def _attr_type(p, node, name, type_name, a=None):
    at = p.attr_of(node, name)
    p.put("I", at + 4, ATTR_TYPES[type_name])
    if a is not None:
        p.put("Q", at + 8, a)
    return p


def _graph_attr_self(p):
    at = p.attr_of(p.node_of_op(SOFTMAX), "axis")
    return p.put("I", at + 4, ATTR_TYPES["GRAPH"]).put("Q", at + 8, 0)


def _set_int(p, node, name, value):
    return p.put("q", p.attr_of(node, name) + 8, value)


def _set_ints(p, node, name, k, value):
    return p.put("q", p.ints_entry(node, name, k), value)


# (case number, label, mutate(p) -> p or bytes, exception class, message regex). Every
# mutation of the list is followed by fix_crcs() unless it returns bytes.
CASES = [
    (1, "empty", lambda p: b"", ArchiveError, r"empty"),
    (1, "shorter_than_header", lambda p: p.bytes()[:63], ArchiveError, r"63 bytes, shorter than the 64-byte header"),
    (1, "truncated_in_tables", lambda p: p.bytes()[:300], ArchiveError, r"header\.file_size at offset 32: .* \(truncated\)"),
    (1, "tables_cut_size_consistent", _truncate_tables, ArchiveError, r"section table ends at offset 224, the file has 200"),
    (2, "wrong_magic", lambda p: p.put("B", 1, ord("X")), ArchiveError, r"header\.magic at offset 0: expected 89 44 4B 52"),
    (2, "future_major", lambda p: p.put("H", 8, 2), UnsupportedError, r"reads format version 1\.x, the archive is version 2\.0"),
    (2, "big_endian", lambda p: p.put("I", 12, 0x0D0C0B0A), ArchiveError, r"header\.byte_order .*big-endian"),
    (3, "section_past_eof", lambda p: p.put("Q", p.section_entry[KIND_METADATA] + 16, 1 << 20), ArchiveError,
     r"section 4 \(METADATA.*runs past the end of the file"),
    (3, "offset_plus_size_wraps", lambda p: p.put("Q", p.section_entry[KIND_STRINGS] + 16, 2**64 - 64), ArchiveError,
     r"size 18446744073709551552 runs past the end of the file"),
    (4, "overlapping_sections", _overlap, ArchiveError, r"overlaps the previous section"),
    (4, "section_in_header", lambda p: p.put("Q", p.section_entry[KIND_GRAPH] + 8, 0), ArchiveError,
     r"offset 0 lies inside the header or section table"),
    (5, "misaligned_section", lambda p: p.put("Q", p.section_entry[KIND_WEIGHTS] + 8, p.sections[KIND_WEIGHTS].offset + 4),
     ArchiveError, r"is not a multiple of 64"),
    (5, "misaligned_weight", lambda p: p.put("Q", p.tensor(0) + 16, 4), ArchiveError,
     r"tensor 0 '[^']+': data_offset 4 is not a multiple of 64"),
    (6, "string_without_nul", _string_without_nul, ArchiveError, r"no NUL terminator at section offset"),
    (6, "string_length_past_table", lambda p: p.put("I", p.string_entry(1) + 4, 1 << 20), ArchiveError,
     r"string 1: offset \d+ \+ length 1048576 \+ terminator runs past the STRINGS section"),
    (6, "invalid_utf8", lambda p: _string_byte(p, 1, 0xFF), ArchiveError, r"string \d+: invalid UTF-8 at section offset"),
    (6, "embedded_nul", lambda p: _string_byte(p, 1, 0), ArchiveError, r"string \d+: embedded NUL at section offset"),
    (7, "value_index_equal_count", lambda p: _node_input_is(p, 0, 0, p.counts["value_count"]), ArchiveError,
     r"input 0 is value (\d+), out of range \(\1 values\)"),
    (7, "value_index_int32_max", lambda p: _node_input_is(p, 0, 0, 2**31 - 1), ArchiveError,
     r"input 0 is value 2147483647, out of range"),
    (7, "value_index_negative", lambda p: _node_output_is(p, 0, 2**32 - 1), ArchiveError,
     r"output 0 is value 4294967295, out of range"),
    (7, "string_index_equal_count", lambda p: p.put("I", p.node(0) + 4, len(p.strings)), ArchiveError,
     r"node 0\.name: string index (\d+) out of range \(\1 strings\)"),
    (7, "tensor_index_int32_max", lambda p: p.put("I", p.value(_first_constant(p)) + 16, 2**31 - 1), ArchiveError,
     r"tensor index 2147483647 out of range"),
    (8, "string_count_2_32_minus_1", lambda p: p.put("I", p.sections[KIND_STRINGS].offset, 2**32 - 1), ArchiveError,
     r"STRINGS: count 4294967295 needs"),
    (8, "tensor_count_2_32_minus_1", lambda p: p.put("I", p.sections[KIND_TENSORS].offset, 2**32 - 1), ArchiveError,
     r"TENSORS: count 4294967295 implies"),
    (8, "node_count_2_32_minus_1", lambda p: p.put("I", p.sections[KIND_GRAPH].offset + 4, 2**32 - 1), ArchiveError,
     r"GRAPH: counts \(values \d+, nodes 4294967295.* imply a section of"),
    (8, "count_disagrees_with_size", lambda p: p.put("I", p.sections[KIND_GRAPH].offset + 12, p.counts["attr_count"] + 1),
     ArchiveError, r"GRAPH: counts .* imply a section of \d+ bytes, the section has"),
    (9, "rank_10000", lambda p: p.put("I", p.value(p.output_value(0)) + 12, 10000), ArchiveError,
     r"value \d+ '[^']*': rank 10000 exceeds the maximum rank 8"),
    (9, "negative_dim", lambda p: p.put("q", p.value(p.output_value(0)) + 24 + 8, -5), ArchiveError,
     r"dims\[1\] = -5 is negative"),
    (9, "zero_dim_disagrees_with_inference", lambda p: p.put("q", p.value(_input_x(p)) + 24, 0), ArchiveError,
     r"conv2d .*the archive says f32\[1,4,8,8\], shape inference gives f32\[0,4,8,8\]"),
    (9, "rank_0_input_to_conv", lambda p: _input_rank_0(p), ArchiveError, r"conv2d .*input 'x' must have rank 4, got f32\[\]"),
    (10, "dim_product_overflows", lambda p: _tensor_dims(p, [2**40, 2**40, 1]), ArchiveError, r"overflows 64 bits"),
    (10, "numel_times_size_overflows", lambda p: _tensor_dims(p, [2**62]), ArchiveError, r"x 4 bytes overflows 64 bits"),
    (11, "weight_past_section", lambda p: p.put("Q", p.tensor(0) + 16, p.sections[KIND_WEIGHTS].size + 64 - p.sections[KIND_WEIGHTS].size % 64),
     ArchiveError, r"lies outside the WEIGHTS section"),
    (11, "nbytes_shorter", lambda p: p.put("Q", p.tensor(0) + 24, p.get("Q", p.tensor(0) + 24) - 4), ArchiveError,
     r"tensor 0 '[^']+': nbytes \d+ != numel \d+ x 4 bytes"),
    (11, "nbytes_longer", lambda p: p.put("Q", p.tensor(0) + 24, p.get("Q", p.tensor(0) + 24) + 4), ArchiveError,
     r"tensor 0 '[^']+': nbytes \d+ != numel \d+ x 4 bytes"),
    (12, "tensors_share_bytes", _share_tensor_bytes, ArchiveError, r"tensors \d+ '[^']+' and \d+ '[^']+' share bytes of WEIGHTS"),
    (12, "zero_size_tensor_reuses_offset", _zero_size_tensor_reuses_offset, ArchiveError, r"share bytes of WEIGHTS"),
    (13, "dtype_out_of_range", lambda p: p.put("I", p.tensor(0) + 4, 10), ArchiveError, r"dtype 10 is not a valid dtype"),
    (13, "dtype_does_not_fit_op", lambda p: p.put("I", p.value(_input_x(p)) + 8, 3), ArchiveError,
     r"conv2d .*input 'x' must be f32, got f64\[1,3,8,8\]"),
    (14, "unknown_op", lambda p: p.put("I", p.node(p.node_of_op(SOFTMAX)), 999), UnsupportedError,
     r"does not implement 1 op used by the archive: op#999 \(code 999\)"),
    (14, "too_few_inputs", lambda p: p.put("I", p.node(p.node_of_op(MUL)) + 16, 1), ArchiveError,
     r"mul .*has 1 inputs, expected 2"),
    (14, "missing_attribute", lambda p: p.put("I", p.node(p.node_of_op(CONV)) + 32, p.node_fields(p.node_of_op(CONV))["attr_count"] - 1),
     ArchiveError, r"conv2d .*missing attribute '\w+'"),
    (14, "attr_type_disagrees_with_op", lambda p: _attr_type(p, p.node_of_op(CONV), "groups", "FLOAT"), ArchiveError,
     r"attribute 'groups' has type FLOAT, expected INT"),
    (14, "attr_tag_disagrees_with_payload", lambda p: _attr_type(p, p.node_of_op(SOFTMAX), "axis", "STRING", 1 << 30),
     ArchiveError, r"STRING payload a=1073741824 b=0, expected a string index <"),
    (14, "attr_list_past_section", lambda p: p.put("I", p.node(p.node_of_op(SOFTMAX)) + 28, p.counts["attr_count"]),
     ArchiveError, r"attrs \[\d+, \+1\) run past the attrs array"),
    (14, "ints_payload_past_pool", lambda p: p.put("Q", p.attr_of(p.node_of_op(RESHAPE), "shape") + 16, 2**40),
     ArchiveError, r"entries \[\d+, \+1099511627776\) run past the int pool"),
    (15, "used_before_produced", lambda p: _node_input_is(p, p.node_of_op(RELU), 0, p.output_value(p.node_of_op(SOFTMAX))),
     ArchiveError, r"input 0 uses value \d+ .*before it is defined"),
    (15, "produced_twice", lambda p: _node_output_is(p, p.node_of_op(RELU), p.output_value(p.node_of_op(CONV))),
     ArchiveError, r"value \d+ .* is defined twice \(again as output 0 of node"),
    (15, "node_writes_weight", lambda p: _node_output_is(p, 0, _first_constant(p)), ArchiveError,
     r"of kind 2; a node may only write kind-3 values"),
    (15, "node_writes_graph_input", lambda p: _node_output_is(p, 0, _input_x(p)), ArchiveError,
     r"of kind 1; a node may only write kind-3 values"),
    (15, "cycle", _cycle, ArchiveError, r"before it is defined in this graph"),
    (15, "output_never_produced", lambda p: p.put("I", p.node(p.node_of_op(SOFTMAX)) + 24, 0), ArchiveError,
     r"graph 0 output 0: value \d+ .*is never produced in graph 0"),
    (16, "subgraph_references_main_graph", _graph_attr_self, ArchiveError,
     r"GRAPH payload a=0 b=0, expected a graph index in 1\.\.0"),
    (17, "conv_stride_0", lambda p: _set_ints(p, p.node_of_op(CONV), "stride", 0, 0), ArchiveError,
     r"conv2d .*attribute 'stride' must have values >= 1, got \[0,1\]"),
    (17, "conv_dilation_0", lambda p: _set_ints(p, p.node_of_op(CONV), "dilation", 1, 0), ArchiveError,
     r"attribute 'dilation' must have values >= 1"),
    (17, "pool_kernel_0", lambda p: _set_ints(p, p.node_of_op(MAXPOOL), "kernel", 0, 0), ArchiveError,
     r"max_pool2d .*attribute 'kernel' must have values >= 1"),
    (17, "groups_0", lambda p: _set_int(p, p.node_of_op(CONV), "groups", 0), ArchiveError,
     r"attribute 'groups' must be >= 1, got 0"),
    (17, "groups_not_dividing", lambda p: _set_int(p, p.node_of_op(CONV), "groups", 2), ArchiveError,
     r"groups 2 must divide input channels 3"),
    (17, "negative_padding", lambda p: _set_ints(p, p.node_of_op(CONV), "pads", 0, -1), ArchiveError,
     r"attribute 'pads' must have values >= 0"),
    (17, "output_size_not_positive", lambda p: _set_ints(p, p.node_of_op(CONV), "dilation", 0, 9), ArchiveError,
     r"output height would be < 1"),
    (18, "reshape_numel_mismatch", lambda p: _set_ints(p, p.node_of_op(RESHAPE), "shape", 0, 5), ArchiveError,
     r"reshape .*"),
    (18, "reshape_several_minus_one", lambda p: _set_ints(_set_ints(p, p.node_of_op(RESHAPE), "shape", 0, -1),
                                                           p.node_of_op(RESHAPE), "shape", 1, -1), ArchiveError,
     r"shape \[-1,-1\] has more than one -1"),
    (18, "axis_out_of_range", lambda p: _set_int(p, p.node_of_op(SOFTMAX), "axis", 2), ArchiveError,
     r"softmax .*attribute 'axis' = 2 is out of range for rank 2"),
    (18, "mean_dims_duplicate", lambda p: _set_ints(p, p.node_of_op(MEAN), "dims", 1, 2), ArchiveError, r"mean .*"),
    (18, "concat_axis_mismatch", lambda p: _set_int(p, p.node_of_op(CAT), "axis", 0), ArchiveError,
     r"cat .*the archive says f32\[1,8,2,2\], shape inference gives f32\[2,4,2,2\]"),
    (20, "section_checksum", None, ArchiveError, r"crc stored 0x[0-9A-F]+, computed 0x[0-9A-F]+ \(corrupt section\)"),
    (20, "header_checksum", None, ArchiveError, r"header\.header_crc at offset 44: stored"),
    (20, "trailing_garbage", lambda p: p.bytes() + b"\0" * 64, ArchiveError, r"header\.file_size at offset 32: .*trailing"),
    (20, "trailing_garbage_size_consistent", lambda p: (p.b.extend(b"\0" * 64), p.put("Q", 32, len(p.b)))[1], ArchiveError,
     r"trailing data: the last section ends at offset \d+, the file has"),
]


def _bad_bytes(base: bytes, label: str, mutate) -> bytes:
    p = ArchivePatch(base)
    if label == "section_checksum":  # flip a weight byte, keep the stored CRCs
        p.b[p.sections[KIND_WEIGHTS].offset] ^= 0x40
        return p.bytes()
    if label == "header_checksum":
        p.b[64 + 4] ^= 1  # section 0 flags: covered by the header CRC only
        return p.bytes()
    result = mutate(p)
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    return result.fix_crcs().bytes()


@pytest.mark.parametrize("case,label,mutate,error,pattern", CASES, ids=[f"case{c:02d}-{l}" for c, l, *_ in CASES])
def test_bad_archive_raises_typed_error(every_op, tmp_path, case, label, mutate, error, pattern):
    data = _bad_bytes(every_op[2], label, mutate)
    path = tmp_path / f"case{case:02d}-{label}.dkr"
    path.write_bytes(data)
    for loader in (lambda: deploykit.load(str(path)), lambda: deploykit.load(str(path), copy=True),
                   lambda: deploykit.load_bytes(data)):
        with pytest.raises(error) as info:
            loader()
        assert type(info.value) is error, f"expected exactly {error.__name__}, got {type(info.value).__name__}"
        assert re.search(pattern, str(info.value)), f"message {str(info.value)!r} does not match {pattern!r}"


def test_every_case_of_bad_inputs_md_is_covered():
    covered = {c for c, *_ in CASES} | {5, 16, 19, 20, 21, 22, 23}  # the rest: tests below
    assert covered == set(range(1, 24))


def test_intact_every_op_archive_runs_like_torch(every_op):
    model, x, data = every_op
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(deploykit.load_bytes(data)(x.numpy()), expected, rtol=1e-5, atol=1e-6)


# -- 5: load from memory at an unaligned base ---------------------------------------------------

@pytest.mark.parametrize("shift", [1, 3, 17, 63])
def test_case05_unaligned_memory_base_loads_identically(every_op, shift):
    _, x, data = every_op
    buffer = bytearray(shift) + bytearray(data)
    view = memoryview(buffer)[shift:]
    module = deploykit.load_bytes(view)
    buffer[:] = b"\xcd" * len(buffer)  # the module keeps its own aligned copy
    np.testing.assert_array_equal(module(x.numpy()), deploykit.load_bytes(data)(x.numpy()))


# -- 16: long chains load without recursion ---------------------------------------------------

def test_case16_long_chain_loads(tmp_path):
    class Chain(nn.Module):
        def forward(self, x):
            for _ in range(3000):
                x = torch.relu(x)
            return x

    path = tmp_path / "chain.dkr"
    deploykit.export(Chain(), (torch.randn(4),), str(path), optimize=False)
    module = deploykit.load(str(path))
    assert module.num_nodes == 3000
    x = np.array([-1.0, 0.0, 2.0, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(module(x), torch.relu(torch.from_numpy(x)).numpy())


# -- 19: arena limit ------------------------------------------------------------------------

def test_case19_arena_limit(every_op, tmp_path):
    path = tmp_path / "m.dkr"
    path.write_bytes(every_op[2])
    with pytest.raises(LimitError, match=r"activation arena larger than the limit of 256 bytes"):
        deploykit.load(str(path), max_arena_bytes=256)
    assert deploykit.load(str(path), max_arena_bytes=1 << 20).arena_bytes <= 1 << 20


# -- 20: the file truncated after it was loaded: copy-on-load is immune ---------------------------

def test_case20_copy_on_load_survives_truncation(every_op, tmp_path):
    _, x, data = every_op
    path = tmp_path / "m.dkr"
    path.write_bytes(data)
    module = deploykit.load(str(path), copy=True)
    expected = deploykit.load_bytes(data)(x.numpy())
    os.truncate(path, 100)
    np.testing.assert_array_equal(module(x.numpy()), expected)
    with pytest.raises(ArchiveError, match=r"header\.file_size"):
        deploykit.load(str(path), copy=True)


def test_missing_file_is_archive_io_error_in_both_modes(tmp_path):
    for copy in (False, True):
        with pytest.raises(ArchiveIOError):
            deploykit.load(str(tmp_path / "nope.dkr"), copy=copy)


# -- 21: run-time inputs --------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_op_module(every_op):
    return deploykit.load_bytes(every_op[2])


@pytest.mark.parametrize("bad,pattern", [
    (lambda: (), r"takes 1 input\(s\) .*got 0"),
    (lambda: (np.zeros((3, 8, 8), np.float32),), r"expected shape \[1, 3, 8, 8\], got \[3, 8, 8\]"),
    (lambda: (np.zeros((1, 3, 8, 8, 1), np.float32),), r"expected shape \[1, 3, 8, 8\], got \[1, 3, 8, 8, 1\]"),
    (lambda: (np.zeros((0, 3, 8, 8), np.float32),), r"expected shape \[1, 3, 8, 8\], got \[0, 3, 8, 8\]"),
    (lambda: (np.zeros(INPUT_SHAPE, np.float64),), r"expected dtype f32 .*got float64"),
    (lambda: (torch.zeros(INPUT_SHAPE, dtype=torch.int32),), r"expected dtype f32 .*got int32"),
    (lambda: ([[0.0]],), r"input 0 .*expected a numpy array.*got list"),
], ids=["count", "rank_low", "rank_high", "zero_batch", "dtype_numpy", "dtype_torch", "not_an_array"])
def test_case21_wrong_inputs_raise_input_error(every_op_module, bad, pattern):
    with pytest.raises(InputError, match=pattern):
        every_op_module(*bad())


def _non_contiguous(kind, x):
    if kind == "numpy_strided":
        wide = np.zeros((1, 3, 8, 16), np.float32)
        wide[..., ::2] = x.numpy()
        return wide[..., ::2]
    if kind == "numpy_fortran":
        return np.asfortranarray(x.numpy())
    if kind == "numpy_negative_strides":
        return np.ascontiguousarray(x.numpy()[..., ::-1])[..., ::-1]
    if kind == "torch_transposed":
        return x.transpose(2, 3).contiguous().transpose(2, 3)
    if kind == "torch_channels_last":
        return x.to(memory_format=torch.channels_last)
    if kind == "torch_expanded":
        return x[:, :1].expand(1, 3, 8, 8)
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["numpy_strided", "numpy_fortran", "numpy_negative_strides", "torch_transposed",
                                  "torch_channels_last", "torch_expanded"])
def test_case21_non_contiguous_inputs_are_copied(every_op, every_op_module, kind):
    """Documented behaviour (docs/SECURITY.md): non-contiguous inputs are copied to C order, never misread."""
    model, x, _ = every_op
    if kind == "torch_expanded":
        x = x[:, :1].expand(1, 3, 8, 8).contiguous()
    arg = _non_contiguous(kind, x)
    contiguous = arg.is_contiguous() if isinstance(arg, torch.Tensor) else arg.flags.c_contiguous
    assert not contiguous
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(every_op_module(arg), expected, rtol=1e-5, atol=1e-6)


def test_case21_zero_size_batch_model_runs_like_torch(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5)).eval()
    x = torch.zeros(0, 3, 8, 8)
    path = tmp_path / "zero_batch.dkr"
    deploykit.export(model, (x,), str(path))
    out = deploykit.load(str(path))(x.numpy())
    assert out.shape == (0, 5) and out.dtype == np.float32


# -- 22: NaN, Inf, denormals propagate as in PyTorch ------------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, 1e-40, -1e-40, 0.0, -0.0, 3.0], dtype=np.float32)


def _special_input(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    positions = rng.choice(flat.size, size=min(flat.size, 3 * len(SPECIAL)), replace=False)
    flat[positions] = np.resize(SPECIAL, positions.size)
    return x


def _assert_same_specials(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN positions differ")
    inf = np.isinf(expected)
    np.testing.assert_array_equal(np.isinf(actual), inf, err_msg=f"{what}: Inf positions differ")
    np.testing.assert_array_equal(actual[inf], expected[inf], err_msg=f"{what}: Inf signs differ")
    finite = np.isfinite(expected)
    scale = float(np.max(np.abs(expected[finite]))) if finite.any() else 0.0
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=0, atol=1e-4 * scale + 1e-5, err_msg=what)


class _Ops(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(8, 5)
        # A second operand with its own NaN/Inf/denormals, for the binary ops.
        self.register_buffer("k", torch.from_numpy(_special_input((1, 3, 8, 8), 99)))

    def forward(self, x):
        op = self.op
        if op == "conv2d":
            return self.conv(x)
        if op == "batch_norm":
            return self.bn(x)
        if op == "relu":
            return F.relu(x)
        if op == "add":
            return x + self.k
        if op == "max_pool2d":
            return F.max_pool2d(x, 2)
        if op == "avg_pool2d":
            return F.avg_pool2d(x, 2)
        if op == "adaptive_avg_pool2d":
            return F.adaptive_avg_pool2d(x, (3, 3))
        if op == "flatten":
            return torch.flatten(x, 1)
        if op == "linear":
            return self.fc(x)
        if op == "hardtanh":
            return F.hardtanh(x, -0.5, 0.5)
        if op == "sigmoid":
            return torch.sigmoid(x)
        if op == "mul":
            return x * self.k
        if op == "reshape":
            return x.reshape(3, 64)
        if op == "cat":
            return torch.cat([x, x * 2], dim=1)
        if op == "mean":
            return torch.mean(x, dim=(2, 3))
        if op == "softmax":
            return torch.softmax(x, dim=3)
        raise KeyError(op)


OPS = ["conv2d", "batch_norm", "relu", "add", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "flatten", "linear",
       "hardtanh", "sigmoid", "mul", "reshape", "cat", "mean", "softmax"]


@pytest.mark.parametrize("op", OPS)
def test_case22_nan_inf_denormal_inputs_propagate_like_torch(op, tmp_path):
    torch.manual_seed(0)
    model = _Ops(op).eval()
    shape = (1, 3, 8, 8)
    path = tmp_path / f"{op}.dkr"
    deploykit.export(model, (torch.randn(*shape),), str(path), optimize=False)
    module = deploykit.load(str(path))
    for seed in range(3):
        x = _special_input(shape, seed)
        with torch.no_grad():
            expected = model(torch.from_numpy(x.copy())).numpy()
        _assert_same_specials(module(x), expected, f"{op}, seed {seed}")


def test_case22_nan_and_inf_weights_propagate_like_torch(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(256, 6)).eval()
    with torch.no_grad():
        model[0].weight[1, 0, 0, 0] = float("nan")
        model[0].weight[2, 1, 1, 1] = 1e-40  # denormal weight
        model[1].running_var[3] = 1e-41
        model[3].weight[2, 7] = float("inf")
    x = torch.randn(1, 3, 8, 8)
    path = tmp_path / "special_weights.dkr"
    deploykit.export(model, (x,), str(path), optimize=False)
    with torch.no_grad():
        expected = model(x).numpy()
    _assert_same_specials(deploykit.load(str(path))(x.numpy()), expected, "special weights")
