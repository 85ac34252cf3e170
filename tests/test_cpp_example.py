"""examples/cpp builds against the deployrt CMake package and reproduces torch's ResNet logits.

The package directory (holding deployrtConfig.cmake) comes from $DEPLOYRT_CMAKE_DIR,
default <repo>/build/cpp, which `cmake -S . -B build/cpp` (make cpp-build) creates.
Without it the test fails: a missing build is a broken setup, not a reason to skip.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO_ROOT, assert_close_to_torch

EXAMPLE_SRC = REPO_ROOT / "examples" / "cpp"


def _deployrt_cmake_dir() -> Path:
    d = Path(os.environ.get("DEPLOYRT_CMAKE_DIR", REPO_ROOT / "build" / "cpp"))
    if not (d / "deployrtConfig.cmake").is_file():
        pytest.fail(
            f"no deployrtConfig.cmake in {d}: build the runtime first "
            f"(`cmake -S {REPO_ROOT} -B {REPO_ROOT / 'build' / 'cpp'} -G Ninja && cmake --build build/cpp`, "
            "i.e. `make cpp-build`) or point DEPLOYRT_CMAKE_DIR at a build tree or install prefix's lib/cmake/deployrt"
        )
    return d


def _run(cmd, what, cwd=None, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def example_app(tmp_path_factory):
    """Configures and builds examples/cpp once; returns the executable's path."""
    package_dir = _deployrt_cmake_dir()
    build = tmp_path_factory.mktemp("example_build")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run(["cmake", "-S", EXAMPLE_SRC, "-B", build, *generator, f"-Ddeployrt_DIR={package_dir}",
          "-DCMAKE_BUILD_TYPE=Release"], "configuring examples/cpp")
    _run(["cmake", "--build", build], "building examples/cpp")
    app = build / "deployrt_example"
    assert app.is_file(), f"the build did not produce {app}"
    return app


def _printed_top5(stdout):
    return {int(r): [int(i) for i in idx.split()] for r, idx in re.findall(r"^top5\[(\d+)\]:((?: \d+)+)\s*$", stdout, re.M)}


@pytest.mark.parametrize("batch", [1, 4], ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
def test_cpp_example_matches_torch(example_app, resnet_archives, tmp_path, arch, batch):
    case = resnet_archives.get(arch, batch)
    out = tmp_path / "logits.npy"
    proc = _run([example_app, case.archive, case.input_npy, out], f"deployrt_example on {arch} batch {batch}")

    logits = np.load(out)
    assert_close_to_torch(logits, case.expected, what=f"C++ example {arch} batch {batch} logits")

    assert re.search(rf"^input .*\[{batch}, 3, 224, 224\]$", proc.stdout, re.M), proc.stdout
    assert re.search(rf"^output .*\[{batch}, 1000\]$", proc.stdout, re.M), proc.stdout
    top5 = _printed_top5(proc.stdout)
    assert sorted(top5) == list(range(batch)), f"expected a top5 line per image:\n{proc.stdout}"
    for r in range(batch):
        assert top5[r] == list(np.argsort(-logits[r], kind="stable")[:5]), f"row {r}: printed {top5[r]}"


def test_cpp_example_reports_wrong_input_shape(example_app, resnet_archives, tmp_path):
    """A batch-4 image for a batch-1 archive: deployrt::Error caught, message, exit 1, no output."""
    model = resnet_archives.get("resnet18", 1)
    wrong = resnet_archives.get("resnet18", 4)
    out = tmp_path / "never.npy"
    proc = subprocess.run([str(example_app), str(model.archive), str(wrong.input_npy), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stderr}"
    assert "input" in proc.stderr.lower() and "224" in proc.stderr, proc.stderr
    assert not out.exists()


def test_cpp_example_rejects_non_f32_npy(example_app, resnet_archives, tmp_path):
    model = resnet_archives.get("resnet18", 1)
    x64 = tmp_path / "x64.npy"
    np.save(x64, np.zeros((1, 3, 224, 224), dtype=np.float64))
    proc = subprocess.run([str(example_app), str(model.archive), str(x64), str(tmp_path / "y.npy")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "<f4" in proc.stderr, proc.stderr
