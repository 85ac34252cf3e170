"""Deterministic robustness sweeps over small REAL archives that use every op kind
(BAD_INPUTS.md "Figures"): every prefix truncation, and every single-byte flip with
the checksums left as they are and recomputed. Each variant is loaded and, when it
loads, run. Outcomes are counted as typed error vs loaded-and-ran; crashes must be 0.

The sweeps run in child processes, so a crash is reported (with the case that caused
it) instead of killing pytest: the C++ tool deployrt-sweep (cpp/fuzz/sweep_main.cc)
for the full sweeps, and a Python child for the deploykit.load_bytes path.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dkr_archive import read_archive
from every_op_model import ALL_OP_CODES, export_every_op
from helpers import REPO_ROOT, subprocess_env


def sweep_bin():
    """deployrt-sweep: $DEPLOYRT_SWEEP, else next to the C++ build ($DEPLOYRT_CMAKE_DIR, build/cpp)."""
    candidates = [os.environ.get("DEPLOYRT_SWEEP")]
    if os.environ.get("DEPLOYRT_CMAKE_DIR"):
        candidates.append(str(Path(os.environ["DEPLOYRT_CMAKE_DIR"]) / "deployrt-sweep"))
    candidates.append(str(REPO_ROOT / "build" / "cpp" / "deployrt-sweep"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.fail(f"deployrt-sweep not found (looked at {[c for c in candidates if c]}); build it with `make cpp-build`")


@pytest.fixture(scope="module", params=["unoptimized", "optimized"])
def real_archive(request, tmp_path_factory):
    """The every-op model, exported without passes (all 16 op kinds) and with them (fused epilogues)."""
    path = tmp_path_factory.mktemp("sweep") / f"every_op_{request.param}.dkr"
    if request.param == "unoptimized":
        export_every_op(path)
        assert set(read_archive(path.read_bytes()).node_ops()) == ALL_OP_CODES
    else:
        import deploykit
        from every_op_model import INPUT_SHAPE, make_every_op_model
        import torch

        deploykit.export(make_every_op_model(), (torch.randn(*INPUT_SHAPE),), str(path))
    return path


def test_cpp_sweep_no_crash_and_counts(real_archive):
    proc = subprocess.run([sweep_bin(), str(real_archive)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"deployrt-sweep failed ({proc.returncode}): {proc.stderr[-2000:]}"
    counts = json.loads(proc.stdout)
    size = counts["archive_bytes"]
    assert size == real_archive.stat().st_size
    # Every proper prefix fails the file_size check; every raw flip fails a CRC or a header check.
    assert counts["truncations"] == {**counts["truncations"], "cases": size, "typed_error": size}
    assert counts["flips"]["cases"] == size and counts["flips"]["typed_error"] == size
    fixed = counts["flips_crc_recomputed"]
    assert fixed["cases"] == size
    assert fixed["typed_error"] + fixed["ran"] + fixed["run_rejected"] + fixed["loaded_not_run"] == size
    assert fixed["typed_error"] > size // 2, fixed  # most bytes are structure: a flip must be caught
    assert fixed["ran"] > 0, fixed  # weight / metadata flips still load and run
    print(f"\n{real_archive.name}: {json.dumps(counts)}")


PY_SWEEP = textwrap.dedent(r"""
    import collections, json, struct, sys
    import numpy as np
    import deploykit
    from deploykit.archive.format import crc32c

    data = open(sys.argv[1], "rb").read()
    count = struct.unpack_from("<I", data, 20)[0]
    entries = [struct.unpack_from("<IIQQ", data, 64 + 32 * i) for i in range(count)]
    table_end = 64 + 32 * count

    def fix(b, flipped):
        # Only the section holding the flipped byte (and the header CRC) changes.
        for i, (_, _, off, size) in enumerate(entries):
            if off <= flipped < off + size:
                struct.pack_into("<I", b, 64 + 32 * i + 24, crc32c(bytes(b[off:off + size])))
        struct.pack_into("<I", b, 44, 0)
        struct.pack_into("<I", b, 44, crc32c(bytes(b[64:table_end]), crc32c(bytes(b[:64]))))

    outcomes = collections.Counter()
    for i in range(len(data)):
        b = bytearray(data)
        b[i] ^= 0xFF
        if i >= table_end or i < 44 or i >= 48:
            fix(b, i)
        try:
            m = deploykit.load_bytes(bytes(b), num_threads=1)
        except deploykit.DeployError as e:
            assert str(e), f"byte {i}: {type(e).__name__} without a message"
            outcomes["error:" + type(e).__name__] += 1
            continue
        try:
            args = [np.ones(shape, dtype=np.float32) if dt == "f32" else None for _, dt, shape in m.inputs]
            if any(a is None for a in args):
                outcomes["ran_or_input_error"] += 1
                continue
            m(*args)
            outcomes["ran"] += 1
        except deploykit.InputError:
            outcomes["run:InputError"] += 1
    print(json.dumps(dict(outcomes)))
""")


def test_python_sweep_every_byte_flip_with_crcs_recomputed(tmp_path):
    """Through deploykit.load_bytes: every outcome is a DeployError subclass with a message, or a run."""
    path = tmp_path / "every_op.dkr"
    export_every_op(path)
    proc = subprocess.run([sys.executable, "-c", PY_SWEEP, str(path)], capture_output=True, text=True, timeout=600,
                          env=subprocess_env())
    assert proc.returncode == 0, f"Python sweep child failed ({proc.returncode}): {proc.stderr[-3000:]}"
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sum(outcomes.values()) == path.stat().st_size
    assert outcomes.get("ran", 0) > 0 and outcomes.get("error:ArchiveError", 0) > 0, outcomes
    assert not any(k in outcomes for k in ("error:InternalError", "error:DeployError")), outcomes
    print(f"\nPython sweep: {outcomes}")
