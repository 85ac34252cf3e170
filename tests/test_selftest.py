"""Self-checking archives: export --embed-test-vectors, `deployrt-run --selftest`,
Module.selftest(), `deploykit verify` (stored vectors, a PyTorch model, --per-op), the
TEST_VECTORS section in both readers, and deployrt-run --bench / --profile."""

import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

import deploykit
from deploykit.archive import format as fmt
from deploykit.archive.reader import read, read_bytes
from deploykit.archive.test_vectors import TestVectors
from deploykit.archive.writer import serialize
from deploykit.verify import verify


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        y = torch.relu(self.conv2(y))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = Tiny().eval()
    x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(3))
    path = tmp_path_factory.mktemp("selftest") / "tiny.dkr"
    graph = deploykit.export(model, (x,), path, embed_test_vectors=True)
    with torch.no_grad():
        expected = model(x).numpy()
    return model, x, path, graph, expected


def _run(cmd, timeout=600):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)


def _tampered(tmp_path, path, scale_output=None, bump=None):
    """A copy of the archive whose stored expected output is changed."""
    archive = read(path)
    ins, outs = archive.test_vectors.vectors[0]
    outs = [o.copy() for o in outs]
    if bump is not None:
        outs[0].reshape(-1)[bump[0]] += bump[1]
    data = serialize(archive.graph, archive.metadata, TestVectors([(ins, outs)]))
    out = tmp_path / "tampered.dkr"
    out.write_bytes(data)
    return out


def test_export_stores_inputs_and_torch_outputs(tiny):
    model, x, path, graph, expected = tiny
    archive = read(path)
    assert archive.version == (1, 1)
    assert archive.metadata["format_version"] == "1.1"
    tv = archive.test_vectors
    assert len(tv.vectors) == 1
    (ins, outs) = tv.vectors[0]
    np.testing.assert_array_equal(ins[0], x.numpy())
    np.testing.assert_array_equal(outs[0], expected)
    assert (tv.rtol, tv.atol) == (1e-4, 1e-5)
    # Without the option: format 1.0, no section.
    plain = path.parent / "plain.dkr"
    deploykit.export(model, (x,), plain)
    assert read(plain).version == (1, 0) and read(plain).test_vectors is None


def test_deployrt_run_selftest_passes(tiny, deployrt_run):
    proc = _run([deployrt_run, tiny[2], "--selftest", "--threads", "2"])
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "PASS vector 0 output 0" in proc.stdout and "selftest passed" in proc.stdout, proc.stdout


def test_deployrt_run_selftest_reports_mismatch(tiny, deployrt_run, tmp_path):
    bad = _tampered(tmp_path, tiny[2], bump=(3, 0.25))
    proc = _run([deployrt_run, bad, "--selftest"])
    assert proc.returncode == 3, proc.stderr + proc.stdout
    line = next(l for l in proc.stdout.splitlines() if l.startswith("FAIL"))
    assert "vector 0 output 0" in line
    max_abs = float(line.split("max abs error ")[1].split(",")[0])
    assert max_abs == pytest.approx(0.25, rel=1e-3), line
    assert "tolerance" in line and "selftest FAILED" in proc.stdout


def test_selftest_without_vectors_is_an_error(tiny, deployrt_run, tmp_path):
    plain = tmp_path / "plain.dkr"
    deploykit.export(tiny[0], (tiny[1],), plain)
    proc = _run([deployrt_run, plain, "--selftest"])
    assert proc.returncode == 2 and "no test vectors" in proc.stderr, proc.stderr
    with pytest.raises(deploykit.InputError, match="no test vectors"):
        deploykit.load(plain).selftest()


def test_python_selftest_and_verify(tiny, tmp_path):
    checks = deploykit.load(tiny[2]).selftest()
    assert len(checks) == 1 and checks[0]["passed"] and checks[0]["max_abs"] <= checks[0]["tolerance"]
    report = verify(tiny[2])
    assert report.passed and report.reference == "stored test vectors"
    bad = _tampered(tmp_path, tiny[2], bump=(0, -1.0))
    report = verify(bad)
    assert not report.passed
    assert report.outputs[0].max_abs == pytest.approx(1.0, rel=1e-4)
    assert not deploykit.load(bad).selftest()[0]["passed"]


def test_verify_cli(tiny, tmp_path):
    proc = _run([sys.executable, "-m", "deploykit", "verify", tiny[2]])
    assert proc.returncode == 0 and "PASS" in proc.stdout, proc.stderr + proc.stdout
    assert "max abs" in proc.stdout and "max rel" in proc.stdout
    bad = _tampered(tmp_path, tiny[2], bump=(1, 0.5))
    proc = _run([sys.executable, "-m", "deploykit", "verify", bad])
    assert proc.returncode == 1 and "FAIL" in proc.stdout, proc.stdout
    proc = _run([sys.executable, "-m", "deploykit", "verify", tiny[2], "--per-op"])
    assert proc.returncode == 2 and "--model" in proc.stderr, proc.stderr


def test_verify_per_op_finds_the_first_drifting_op(tiny, tmp_path):
    model, x, path, graph, expected = tiny
    report = verify(path, model=model, per_op=True)
    assert report.passed and report.per_op and report.first_drift is None
    assert any(" conv2d " in c.what for c in report.per_op) and any(" linear " in c.what for c in report.per_op)
    # Perturb conv2's weights in the archive only: conv1 still matches, conv2 is the first drift.
    archive = read(path)
    conv2 = [n for n in archive.graph.nodes if n.op == "conv2d"][1]
    weight = conv2.inputs[1].name
    archive.graph.constants[weight] = archive.graph.constants[weight] * 1.01
    drifted = tmp_path / "drifted.dkr"
    drifted.write_bytes(serialize(archive.graph, archive.metadata))
    report = verify(drifted, model=model, inputs=[x.numpy()], per_op=True)
    assert not report.passed
    first = report.first_drift
    assert first is not None and " conv2d " in first.what, report.format()
    assert report.per_op[0].passed and report.per_op.index(first) == 1, report.format()


def _section(data: bytes, kind: int):
    count = struct.unpack_from("<I", data, 20)[0]
    for i in range(count):
        k, _, off, size = struct.unpack_from("<IIQQ", data, 64 + 32 * i)
        if k == kind:
            return 64 + 32 * i, off, size
    raise AssertionError(kind)


def _refresh_crcs(data: bytearray) -> bytes:
    count = struct.unpack_from("<I", data, 20)[0]
    for i in range(count):
        at = 64 + 32 * i
        _, _, off, size = struct.unpack_from("<IIQQ", data, at)
        struct.pack_into("<I", data, at + 24, fmt.crc32c(bytes(data[off:off + size])))
    struct.pack_into("<I", data, 44, 0)
    table_end = 64 + 32 * count
    struct.pack_into("<I", data, 44, fmt.crc32c(bytes(data[:table_end])))
    return bytes(data)


@pytest.mark.parametrize("field,value,message", [
    ("count", 0, "count is 0"),
    ("input_count", 2, "input_count is 2"),
    ("rtol", -1.0, "rtol is -1.0"),
    ("index", 10_000, "tensor index 10000 >= tensor count"),
    ("index_wrong_shape", 0, "expected f32[2,3,9,9]"),
    ("minor", 0, "needs format version 1.1"),
])
def test_malformed_test_vectors_are_rejected_by_both_readers(tiny, tmp_path, field, value, message):
    data = bytearray(tiny[2].read_bytes())
    _, off, size = _section(bytes(data), fmt.SECTION_TEST_VECTORS)
    if field == "count":
        struct.pack_into("<I", data, off, value)
    elif field == "input_count":
        struct.pack_into("<I", data, off + 4, value)
    elif field == "rtol":
        struct.pack_into("<d", data, off + 16, value)
    elif field == "index":
        struct.pack_into("<I", data, off + 64, value)
    elif field == "index_wrong_shape":
        struct.pack_into("<I", data, off + 64, value)  # tensor 0 is conv1's weight
    elif field == "minor":
        struct.pack_into("<H", data, 10, value)
    bad = _refresh_crcs(data)
    with pytest.raises(deploykit.ArchiveError, match="TEST_VECTORS") as python_error:
        read_bytes(bad)
    assert message.split(" ")[0] in str(python_error.value)
    path = tmp_path / "bad.dkr"
    path.write_bytes(bad)
    with pytest.raises(deploykit.ArchiveError) as runtime_error:
        deploykit.load(path)
    text = str(runtime_error.value)
    if field == "minor":  # the C++ verifier already refuses kind 6 in a 1.0 archive
        assert "kind 6" in text, text
    else:
        assert "TEST_VECTORS" in text and message.replace("-1.0", "-1") in text, text


def test_deployrt_run_bench_and_profile(tiny, deployrt_run):
    proc = _run([deployrt_run, tiny[2], "--bench", "5", "--threads", "1"])
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if l.startswith("bench:"))
    values = {k: float(line.split(f" {k} ")[1].split()[0]) for k in ("min", "p50", "p90", "p99", "max")}
    assert values["min"] <= values["p50"] <= values["p90"] <= values["p99"] <= values["max"], line
    proc = _run([deployrt_run, tiny[2], "--profile", "--bench", "3", "--threads", "1"])
    assert proc.returncode == 0, proc.stderr
    rows = [l.split() for l in proc.stdout.splitlines() if l[:1].isdigit()]
    assert [r[1] for r in rows] == [n.op for n in tiny[3].nodes], proc.stdout
    assert "total" in proc.stdout
    proc = _run([deployrt_run, tiny[2], "--bench", "0"])
    assert proc.returncode == 1 and "--bench" in proc.stderr
    proc = _run([deployrt_run, tiny[2], "--selftest", "--bench", "3"])
    assert proc.returncode == 1


def test_resnet18_selftest_on_device(resnet_archives, deployrt_run, tmp_path):
    model = resnet_archives.model("resnet18")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(5))
    path = tmp_path / "resnet18_tv.dkr"
    deploykit.export(model, (x,), path, embed_test_vectors=True)
    proc = _run([deployrt_run, path, "--selftest"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selftest passed: 1 test vector(s), 1 output check(s)" in proc.stdout
    bad = _tampered(tmp_path, path, bump=(7, 0.01))
    proc = _run([deployrt_run, bad, "--selftest"])
    assert proc.returncode == 3 and "FAIL vector 0 output 0" in proc.stdout, proc.stdout
