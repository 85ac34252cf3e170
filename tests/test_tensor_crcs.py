"""Format 1.5 TENSOR_CRCS: a prepacked export stores one CRC per tensor (docs/archive-format.md),
and the runtime checks only the tensors it reads. A flipped byte in a tensor the runtime reads
fails the load naming that tensor; one in a raw weight every kernel took prepacked in place is
never read, and the outputs are exactly the uncorrupted ones. deploykit's own reader checks
the section and every tensor's CRC.
"""

import re
import struct

import numpy as np
import pytest
import torch

import deploykit
from deploykit.archive import format as fmt
from deploykit.errors import ArchiveError
from dkr_archive import read_archive

KIND_WEIGHTS, KIND_TENSOR_CRCS = 3, 8


class Small(torch.nn.Module):
    """One weight per packing layout: 3x3 conv (Winograd at 16x16), 1x1 conv (GEMM), linear (GEMV)."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.c2 = torch.nn.Conv2d(16, 32, 1)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x):
        x = self.c2(torch.relu(self.c1(x)))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    x = torch.randn(1, 16, 16, 16)
    d = tmp_path_factory.mktemp("tensor_crcs")
    deploykit.export(Small().eval(), (x,), d / "prepacked.dkr", prepack=True)
    deploykit.export(Small().eval(), (x,), d / "plain.dkr")
    return d, x.numpy()


def flipped(data: bytes, archive, t) -> bytes:
    out = bytearray(data)
    out[archive.by_kind[KIND_WEIGHTS].offset + t.data_offset + t.nbytes // 2] ^= 0x5A
    return bytes(out)


def test_a_prepacked_archive_has_one_crc_per_tensor(exported):
    from deploykit.archive.reader import read

    d, _ = exported
    data = (d / "prepacked.dkr").read_bytes()
    archive = read_archive(data)
    assert archive.header.version_minor == 5
    blob = archive.section_bytes(KIND_TENSOR_CRCS)
    tensors = archive.tensors()
    count, reserved = struct.unpack_from("<II", blob, 0)
    assert (count, reserved, len(blob)) == (len(tensors), 0, 8 + 4 * len(tensors))
    assert list(struct.unpack_from(f"<{count}I", blob, 8)) == [fmt.crc32c(archive.tensor_data(t)) for t in tensors]
    assert read(d / "prepacked.dkr").tensor_crcs == list(struct.unpack_from(f"<{count}I", blob, 8))
    # Only prepacked archives carry it: a plain export is byte for byte as before 1.5.
    plain = read_archive((d / "plain.dkr").read_bytes())
    assert KIND_TENSOR_CRCS not in plain.by_kind and plain.header.version_minor == 0
    assert read(d / "plain.dkr").tensor_crcs is None


def test_flips_fail_in_read_tensors_and_are_harmless_in_superseded_raw_weights(exported, tmp_path):
    from deploykit.archive.reader import read

    d, x = exported
    data = (d / "prepacked.dkr").read_bytes()
    archive = read_archive(data)
    strings = archive.strings()
    tensors = archive.tensors()
    want = deploykit.load(d / "prepacked.dkr", num_threads=1)(x)
    sources = {e["source"] for e in archive.packed_weights()}
    packed = {e["data"] for e in archive.packed_weights()}
    bias = next(i for i, t in enumerate(tensors) if strings[t.name].endswith(".bias"))
    for i in sorted(sources | packed | {bias}):
        path = tmp_path / f"flip{i}.dkr"
        path.write_bytes(flipped(data, archive, tensors[i]))
        with pytest.raises(ArchiveError):
            read(path)  # deploykit's reader checks everything
        if i in sources:
            # Every kernel on it took the packed bytes in place: never read, same outputs.
            for threads in (1, 2):
                np.testing.assert_array_equal(deploykit.load(path, num_threads=threads)(x), want)
        else:
            name = strings[tensors[i].name]
            label = f"'{name}'" if name else "(unnamed)"
            with pytest.raises(ArchiveError, match=rf"tensor {i} {re.escape(label)}: TENSOR_CRCS stores crc 0x[0-9A-F]{{8}}"):
                deploykit.load(path, num_threads=2)


def test_a_malformed_section_is_rejected(exported, tmp_path):
    from deploykit.archive.reader import read
    from deploykit.archive.writer import _assemble

    d, _ = exported
    data = (d / "prepacked.dkr").read_bytes()
    archive = read_archive(data)
    n = len(archive.tensors())

    def rewrite(edit):
        sections = [[s.kind, data[s.offset:s.offset + s.size]] for s in archive.sections]
        section = next(s for s in sections if s[0] == KIND_TENSOR_CRCS)
        section[1] = edit(section[1])
        path = tmp_path / "bad.dkr"
        path.write_bytes(_assemble([tuple(s) for s in sections], 5))
        return path

    bad_count = rewrite(lambda b: struct.pack("<I", n + 1) + b[4:])
    for reader in (read, deploykit.load):
        with pytest.raises(ArchiveError, match=f"TENSOR_CRCS: count {n + 1} != tensor count {n}"):
            reader(bad_count)
    # A wrong stored CRC of a bias (section CRCs all valid): both readers name the tensor.
    strings = archive.strings()
    bias = next(i for i, t in enumerate(archive.tensors()) if strings[t.name].endswith(".bias"))
    at = 8 + 4 * bias
    wrong = rewrite(lambda b: b[:at] + struct.pack("<I", struct.unpack_from("<I", b, at)[0] ^ 1) + b[at + 4:])
    with pytest.raises(ArchiveError, match=f"TENSOR_CRCS: tensor {bias} "):
        read(wrong)
    with pytest.raises(ArchiveError, match=f"tensor {bias} '.*': TENSOR_CRCS stores crc"):
        deploykit.load(wrong)
    # The section's own CRC.
    corrupt = bytearray(data)
    corrupt[archive.by_kind[KIND_TENSOR_CRCS].offset + 8] ^= 1
    (tmp_path / "corrupt.dkr").write_bytes(bytes(corrupt))
    with pytest.raises(ArchiveError, match="TENSOR_CRCS"):
        read(tmp_path / "corrupt.dkr")
    with pytest.raises(ArchiveError, match=r"\(TENSOR_CRCS.*corrupt section"):
        deploykit.load(tmp_path / "corrupt.dkr")
