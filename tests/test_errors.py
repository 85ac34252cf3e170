"""Errors are typed, complete and name what is wrong.

- export: every unsupported op reported at once, by name and user source location,
  and no archive written;
- load: truncated, bit-flipped or padded archives raise ArchiveError (never a crash),
  a missing file raises ArchiveIOError;
- forward: wrong input count, dtype or shape raise InputError stating what was expected.
"""

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import deploykit
from deploykit import ArchiveError, ArchiveIOError, DeployError, ExportError, InputError, UnsupportedOpsError
from dkr_archive import KIND_GRAPH, KIND_METADATA, KIND_STRINGS, KIND_TENSORS, KIND_WEIGHTS, read_archive
from helpers import assert_close_to_torch, torch_reference
from models import make_tiny_conv_net

TINY_SHAPE = (1, 3, 8, 8)


# --- export: unsupported ops ------------------------------------------------------------------


class ThreeUnsupportedOps(nn.Module):
    """gelu, upsample_nearest2d and logsumexp are not in docs/ops.md; relu and conv are."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = F.relu(self.conv(x))
        y = F.gelu(y)  # unsupported: aten::gelu
        y = F.interpolate(y, scale_factor=2, mode="nearest")  # unsupported: aten::upsample_nearest2d
        return torch.logsumexp(y, dim=1)  # unsupported: aten::logsumexp


def _line_of(fn, needle):
    """Absolute line number, in this file, of the line of `fn` containing `needle`."""
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, text in enumerate(lines) if needle in text]
    assert len(hits) == 1, f"{needle!r} must occur once in {fn.__qualname__}"
    return hits[0]


def test_unsupported_ops_reported_all_at_once_with_locations(tmp_path):
    out = tmp_path / "never_written.dkr"
    x = torch.randn(*TINY_SHAPE)
    with pytest.raises(UnsupportedOpsError) as info:
        deploykit.export(ThreeUnsupportedOps().eval(), (x,), str(out))
    err = info.value
    assert isinstance(err, ExportError) and isinstance(err, DeployError)
    assert not out.exists(), "export failed but left a file behind"

    expected_lines = {
        "gelu": _line_of(ThreeUnsupportedOps.forward, "F.gelu("),
        "upsample_nearest2d": _line_of(ThreeUnsupportedOps.forward, "F.interpolate("),
        "logsumexp": _line_of(ThreeUnsupportedOps.forward, "torch.logsumexp("),
    }
    reported = [(str(op), str(loc)) for op, loc in err.ops]
    for name, line in expected_lines.items():
        matches = [(op, loc) for op, loc in reported if re.search(rf"(^|:){name}$", op)]
        assert matches, f"{name} missing from UnsupportedOpsError.ops = {reported}"
        # The user's line, not a frame inside torch (F.interpolate dispatches from torch/nn/functional.py).
        assert any(re.search(rf"test_errors\.py:{line}\b", loc) for _, loc in matches), (
            f"{name}: expected source location test_errors.py:{line}, reported {matches}"
        )
        assert name in str(err), f"the message does not name {name}: {err}"
    supported = [op for op, _ in reported if re.search(r"(^|:)(relu|conv2d|_convolution)$", op)]
    assert not supported, f"supported ops reported as unsupported: {supported}"


def test_unsupported_op_in_scripted_module_is_reported(tmp_path):
    """An already traced ScriptModule goes through the same op check as an nn.Module."""

    class Gelu(nn.Module):
        def forward(self, x):
            return F.gelu(x) + x

    out = tmp_path / "gelu.dkr"
    scripted = torch.jit.trace(Gelu().eval(), torch.randn(1, 3, 4, 4))
    with pytest.raises(UnsupportedOpsError) as info:
        deploykit.export(scripted, (torch.randn(1, 3, 4, 4),), str(out))
    assert any("gelu" in str(op) for op, _ in info.value.ops), info.value.ops
    assert not out.exists()


# --- load: corrupt archives ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_archive_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.dkr"
    model = make_tiny_conv_net()
    deploykit.export(model, (torch.randn(*TINY_SHAPE),), str(path))
    return path.read_bytes()


def _write(tmp_path, data, name="corrupt.dkr"):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_intact_archive_loads(tiny_archive_bytes, tmp_path):
    """Control for the corruption tests below: the unmodified bytes load and run."""
    module = deploykit.load(_write(tmp_path, tiny_archive_bytes, "ok.dkr"))
    x = torch.randn(*TINY_SHAPE)
    assert_close_to_torch(module(x.numpy()), torch_reference(make_tiny_conv_net(), (x,)))


@pytest.mark.parametrize("keep", ["8", "63", "64", "100", "half", "minus1"])
def test_truncated_archive_raises_archive_error(tiny_archive_bytes, tmp_path, keep):
    n = len(tiny_archive_bytes)
    length = {"half": n // 2, "minus1": n - 1}.get(keep) or int(keep)
    with pytest.raises(ArchiveError) as info:
        deploykit.load(_write(tmp_path, tiny_archive_bytes[:length]))
    assert str(info.value), "ArchiveError without a message"


def test_empty_file_raises_typed_error(tmp_path):
    # Malformed (ArchiveError) or unmappable (ArchiveIOError) are both honest for 0 bytes.
    with pytest.raises((ArchiveError, ArchiveIOError)) as info:
        deploykit.load(_write(tmp_path, b""))
    assert str(info.value)


def test_trailing_garbage_raises_archive_error(tiny_archive_bytes, tmp_path):
    with pytest.raises(ArchiveError):
        deploykit.load(_write(tmp_path, tiny_archive_bytes + b"\0" * 64))


def _flip_targets(data):
    """(label, byte offset) pairs: header fields, the section table, and the inside of every section."""
    a = read_archive(data)
    targets = [("magic", 0), ("byte_order", 12), ("file_size", 32), ("header_crc", 44), ("section_table", 64 + 8)]
    for kind, label in [
        (KIND_STRINGS, "strings"),
        (KIND_TENSORS, "tensors"),
        (KIND_WEIGHTS, "weights"),
        (KIND_GRAPH, "graph"),
        (KIND_METADATA, "metadata"),
    ]:
        s = a.by_kind[kind]
        targets.append((f"{label}_first_byte", s.offset))
        targets.append((f"{label}_middle", s.offset + s.size // 2))
        targets.append((f"{label}_last_byte", s.offset + s.size - 1))
    return targets


FLIP_LABELS = ["magic", "byte_order", "file_size", "header_crc", "section_table"] + [
    f"{k}_{w}" for k in ("strings", "tensors", "weights", "graph", "metadata") for w in ("first_byte", "middle", "last_byte")
]


@pytest.mark.parametrize("label", FLIP_LABELS)
def test_bit_flipped_archive_raises_archive_error(tiny_archive_bytes, tmp_path, label):
    offset = dict(_flip_targets(tiny_archive_bytes))[label]
    data = bytearray(tiny_archive_bytes)
    data[offset] ^= 0x10
    with pytest.raises(ArchiveError) as info:
        deploykit.load(_write(tmp_path, bytes(data)))
    assert str(info.value)


def test_every_byte_flip_of_header_and_table_is_a_typed_error(tiny_archive_bytes, tmp_path):
    """Sweep: each byte of the header and section table, inverted, gives a DeployError, never a crash."""
    a = read_archive(tiny_archive_bytes)
    end = a.header.section_table_offset + 32 * a.header.section_count
    path = tmp_path / "sweep.dkr"
    wrong = []
    for offset in range(end):
        data = bytearray(tiny_archive_bytes)
        data[offset] ^= 0xFF
        path.write_bytes(bytes(data))
        try:
            deploykit.load(str(path))
            wrong.append((offset, "loaded"))
        except ArchiveError:
            pass
        except DeployError as e:
            # A mangled major version may honestly be "unsupported" rather than "corrupt".
            if not (8 <= offset < 10 and isinstance(e, deploykit.UnsupportedError)):
                wrong.append((offset, type(e).__name__))
    assert not wrong, f"byte flips not reported as ArchiveError: {wrong[:20]}"


def test_missing_file_raises_archive_io_error(tmp_path):
    missing = tmp_path / "does_not_exist.dkr"
    with pytest.raises(ArchiveIOError) as info:
        deploykit.load(str(missing))
    assert isinstance(info.value, OSError)
    assert "does_not_exist.dkr" in str(info.value), f"message does not name the file: {info.value}"


def test_directory_instead_of_file_raises_archive_io_error(tmp_path):
    with pytest.raises(ArchiveIOError):
        deploykit.load(str(tmp_path))


# --- forward: wrong inputs --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_module(tiny_archive_bytes, tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_module") / "tiny.dkr"
    path.write_bytes(tiny_archive_bytes)
    return deploykit.load(str(path))


def _dims_pattern(shape):
    """Matches a shape printed in any bracket/separator style: (1, 3, 8, 8), [1,3,8,8], 1x3x8x8."""
    return r"(?<!\d)" + r"\D{1,3}".join(str(d) for d in shape) + r"(?!\d)"


@pytest.mark.parametrize(
    "shape",
    [(1, 3, 8, 9), (1, 3, 9, 8), (2, 3, 8, 8), (1, 4, 8, 8), (3, 8, 8), (1, 1, 3, 8, 8)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_wrong_input_shape_raises_input_error(tiny_module, shape):
    with pytest.raises(InputError) as info:
        tiny_module(np.zeros(shape, dtype=np.float32))
    message = str(info.value)
    expected = re.search(_dims_pattern(TINY_SHAPE), message)
    assert expected, f"message does not state the expected shape {TINY_SHAPE}: {message}"
    # Look for the actual shape outside the expected one ((3, 8, 8) is a substring of (1, 3, 8, 8)).
    rest = message[: expected.start()] + " | " + message[expected.end() :]
    assert re.search(_dims_pattern(shape), rest), f"message does not state the actual shape {shape}: {message}"


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros(TINY_SHAPE, dtype=np.float64),
        lambda: np.zeros(TINY_SHAPE, dtype=np.int32),
        lambda: torch.zeros(TINY_SHAPE, dtype=torch.int64),
        lambda: torch.zeros(TINY_SHAPE, dtype=torch.float16),
    ],
    ids=["numpy_f64", "numpy_i32", "torch_i64", "torch_f16"],
)
def test_wrong_input_dtype_raises_input_error(tiny_module, make):
    with pytest.raises(InputError) as info:
        tiny_module(make())
    message = str(info.value)
    assert re.search(r"f32|float32", message), f"message does not state the expected dtype: {message}"


@pytest.mark.parametrize("count", [0, 2])
def test_wrong_input_count_raises_input_error(tiny_module, count):
    with pytest.raises(InputError) as info:
        tiny_module(*[np.zeros(TINY_SHAPE, dtype=np.float32)] * count)
    message = str(info.value)
    assert re.search(r"\b1\b", message) and re.search(rf"\b{count}\b", message), (
        f"message should state expected (1) and actual ({count}) input counts: {message}"
    )


def test_non_contiguous_input_is_handled(tiny_module):
    """A strided view is either copied to C order (correct result) or refused with InputError."""
    base = torch.randn(1, 3, 8, 16)
    view = base.numpy()[:, :, :, ::2]
    assert not view.flags["C_CONTIGUOUS"]
    try:
        out = tiny_module(view)
    except InputError:
        return
    expected = torch_reference(make_tiny_conv_net(), (torch.from_numpy(np.ascontiguousarray(view)),))
    assert_close_to_torch(out, expected)
