"""Format 1.4 PACKED_WEIGHTS: `deploykit.export(..., prepack=True)` stores the weights the C++
runtime packs, and the runtime reads them in place at that ISA level. ResNet-18 at 64x64 (every
packing layout: GEMM, Winograd, GEMV) must match PyTorch at every ISA level (packing afresh at
the levels that did not prepack), bit for bit equal to the same archive without the section;
the section must follow the spec (tests/dkr_archive.py) and be reported by `deploykit inspect`.
"""

import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

import deploykit
from dkr_archive import read_archive
from helpers import assert_close_to_torch

# Runs both archives at the process's DEPLOYRT_ISA; prints the ISA level chosen.
RUN = """
import sys, numpy as np, deploykit
plain, prepacked, x, out = sys.argv[1:5]
x = np.load(x)
a, b = deploykit.load(plain, num_threads=1), deploykit.load(prepacked, num_threads=1)
np.save(out, np.stack([a(x), b(x)]))
print(b._native.isa)
"""


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    from deploykit.models.resnet import resnet18

    torch.manual_seed(0)
    model = resnet18().eval()
    x = torch.randn(1, 3, 64, 64)
    d = tmp_path_factory.mktemp("prepack")
    deploykit.export(model, (x,), d / "plain.dkr")
    deploykit.export(model, (x,), d / "prepacked.dkr", prepack=True)
    np.save(d / "x.npy", x.numpy())
    with torch.no_grad():
        expected = model(x).numpy()
    return d, expected


def test_prepacked_archive_follows_the_spec(archives):
    d, _ = archives
    plain = read_archive((d / "plain.dkr").read_bytes())
    data = (d / "prepacked.dkr").read_bytes()
    archive = read_archive(data)
    # 1.5: prepacking also writes TENSOR_CRCS (tests/test_tensor_crcs.py).
    assert archive.header.version_minor == 5
    assert archive.metadata()["format_version"] == "1.5"
    entries = archive.packed_weights()  # checks every rule of the section
    layouts = {e["layout"] for e in entries}
    assert layouts == {1, 2, 3}, layouts  # conv GEMM, GEMV (fc), Winograd (3x3 at 64x64)
    assert len({e["isa"] for e in entries}) == 1
    # The raw weights are all still there, unchanged, with the packed ones after them.
    assert [(t.name, t.nbytes) for t in archive.tensors()[:len(plain.tensors())]] == \
        [(t.name, t.nbytes) for t in plain.tensors()]
    assert sorted(e["data"] for e in entries) == list(range(len(plain.tensors()), len(archive.tensors())))
    # deploykit's own reader verifies it too, and inspect reports it.
    from deploykit.archive.reader import read

    assert len(read(d / "prepacked.dkr").packed_weights) == len(entries)
    assert read(d / "plain.dkr").packed_weights == []


def test_inspect_reports_prepacking(archives, capsys):
    from deploykit.archive.packed_weights import ISAS
    from deploykit.cli import main as cli_main

    d, _ = archives
    isa = ISAS[read_archive((d / "prepacked.dkr").read_bytes()).packed_weights()[0]["isa"]]
    assert cli_main(["inspect", "--stats", str(d / "prepacked.dkr")]) == 0
    out = capsys.readouterr().out
    assert f"prepacked:    yes: {len(read_archive((d / 'prepacked.dkr').read_bytes()).packed_weights())} weights for {isa}" \
        in out
    assert "checksums:    per section and per tensor" in out
    assert cli_main(["inspect", str(d / "plain.dkr")]) == 0
    out = capsys.readouterr().out
    assert "prepacked:    no" in out
    assert "checksums:    per section\n" in out


def test_a_malformed_section_is_rejected(archives, tmp_path):
    from deploykit.archive.writer import _assemble
    from deploykit.errors import ArchiveError

    d, _ = archives
    data = (d / "prepacked.dkr").read_bytes()
    archive = read_archive(data)
    sections = [[s.kind, data[s.offset:s.offset + s.size]] for s in archive.sections]
    pw = next(s for s in sections if s[0] == 7)
    pw[1] = pw[1][:16 + 4] + struct.pack("<I", 9) + pw[1][16 + 8:]  # entry 0 layout 9
    bad = tmp_path / "bad.dkr"
    bad.write_bytes(_assemble([tuple(s) for s in sections], 5))
    from deploykit.archive.reader import read

    with pytest.raises(ArchiveError, match="PACKED_WEIGHTS: entry 0: layout 9 is not a layout code"):
        read(bad)
    with pytest.raises(ArchiveError, match="PACKED_WEIGHTS: entry 0: layout 9 is not a layout code"):
        deploykit.load(bad)


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_prepacked_resnet18_matches_torch_at_every_isa_level(archives, isa):
    d, expected = archives
    env = dict(os.environ, DEPLOYRT_ISA=isa)
    out = d / f"y_{isa}.npy"
    run = subprocess.run([sys.executable, "-c", RUN, str(d / "plain.dkr"), str(d / "prepacked.dkr"),
                          str(d / "x.npy"), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    chosen = run.stdout.strip().splitlines()[-1]
    if chosen != isa:
        pytest.skip(f"this host cannot run {isa} kernels (the runtime chose {chosen})")
    plain, prepacked = np.load(out)
    assert_close_to_torch(prepacked, expected, f"prepacked ResNet-18 at {isa}")
    np.testing.assert_array_equal(prepacked, plain)


def test_export_cli_prepack_flag(tmp_path):
    from deploykit.cli import main as cli_main

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 4))
    out = tmp_path / "m.dkr"
    script = torch.jit.trace(model.eval(), torch.randn(1, 3, 8, 8))
    script.save(str(tmp_path / "m.ts.pt"))
    assert cli_main(["export", str(tmp_path / "m.ts.pt"), "-o", str(out), "--input-shape", "1,3,8,8",
                     "--prepack", "scalar"]) == 0
    entries = read_archive(out.read_bytes()).packed_weights()
    assert {e["isa"] for e in entries} == {1}  # scalar, as asked
    assert sorted(e["layout"] for e in entries) == [1, 2]  # the conv's GEMM panels, the linear's GEMV panels
