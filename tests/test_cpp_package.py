"""The C/C++ SDK as users get it: examples/cpp (C++ API) and examples/c (C API) configure,
build and run against (a) a `cmake --install` prefix and (b) the pip-installed package
(`deploykit --cmake-dir`), and reproduce PyTorch's ResNet-18 logits. The pkg-config file
and the static library are checked too.

(a) installs the runtime's CMake build tree named by $DEPLOYRT_CMAKE_DIR (default
build/cpp, which `make cpp-build` creates). (b) asks the deploykit package that this
Python imports: in `make test` that is .venv's site-packages copy.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import REPO_ROOT, assert_close_to_torch

GENERATOR = ["-G", "Ninja"] if shutil.which("ninja") else []


def _run(cmd, what, env=None, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def install_prefix(tmp_path_factory) -> Path:
    build = Path(os.environ.get("DEPLOYRT_CMAKE_DIR", REPO_ROOT / "build" / "cpp"))
    if not (build / "CMakeCache.txt").is_file():
        pytest.fail(f"no CMake build tree at {build}: run `make cpp-build` or set DEPLOYRT_CMAKE_DIR")
    prefix = tmp_path_factory.mktemp("deployrt_prefix")
    _run(["cmake", "--install", build, "--prefix", prefix], "cmake --install")
    return prefix


@pytest.fixture(scope="module")
def pip_cmake_dir() -> Path:
    proc = _run([sys.executable, "-m", "deploykit", "--cmake-dir"], "deploykit --cmake-dir")
    path = Path(proc.stdout.strip())
    import deploykit

    assert str(path) == deploykit.cmake_dir()
    assert (path / "deployrtConfig.cmake").is_file(), path
    # It lives inside the deploykit package that this interpreter imports.
    assert Path(deploykit.__file__).parent in path.parents, (path, deploykit.__file__)
    return path


def _build_example(name: str, package_dir: Path, build: Path, *defines: str) -> Path:
    _run(["cmake", "-S", REPO_ROOT / "examples" / name, "-B", build, *GENERATOR, f"-Ddeployrt_DIR={package_dir}",
          "-DCMAKE_BUILD_TYPE=Release", *defines], f"configuring examples/{name}")
    _run(["cmake", "--build", build], f"building examples/{name}")
    exe = build / ("deployrt_example" if name == "cpp" else "deployrt_c_example")
    assert exe.is_file(), exe
    return exe


def _check_cpp_example(exe: Path, case, tmp_path: Path):
    out = tmp_path / "cpp_logits.npy"
    _run([exe, case.archive, case.input_npy, out], f"{exe}")
    assert_close_to_torch(np.load(out), case.expected, what=f"{exe} logits")


def _check_c_example(exe: Path, case, tmp_path: Path):
    x, y = tmp_path / "x.bin", tmp_path / "y.bin"
    np.ascontiguousarray(case.input, dtype="<f4").tofile(x)
    proc = _run([exe, case.archive, x, y], f"{exe}")
    assert "[1, 3, 224, 224]" in proc.stdout and "[1, 1000]" in proc.stdout, proc.stdout
    logits = np.fromfile(y, dtype="<f4").reshape(case.expected.shape)
    assert_close_to_torch(logits, case.expected, what=f"{exe} logits")


def _libdeployrt_linked(exe: Path) -> bool:
    return "libdeployrt.so" in _run(["ldd", exe], "ldd").stdout


def test_install_prefix_layout(install_prefix):
    lib = install_prefix / "lib"
    for rel in ["include/deployrt/deployrt.h", "include/deployrt/deployrt_c.h", "lib/libdeployrt.a",
                "lib/libdeployrt.so", "lib/cmake/deployrt/deployrtConfig.cmake", "lib/pkgconfig/deployrt.pc"]:
        assert (install_prefix / rel).exists(), rel
    assert lib.is_dir()


def test_examples_against_cmake_install(install_prefix, resnet_archives, tmp_path):
    case = resnet_archives.get("resnet18", 1)
    cmake_dir = install_prefix / "lib" / "cmake" / "deployrt"
    cpp = _build_example("cpp", cmake_dir, tmp_path / "cpp")
    assert _libdeployrt_linked(cpp)
    _check_cpp_example(cpp, case, tmp_path)
    c = _build_example("c", cmake_dir, tmp_path / "c")
    _check_c_example(c, case, tmp_path)
    # deployrt::deployrt_static: the runtime inside the executable, no libdeployrt.so needed.
    static = _build_example("cpp", cmake_dir, tmp_path / "cpp_static", "-DDEPLOYRT_EXAMPLE_STATIC=ON")
    assert not _libdeployrt_linked(static)
    _check_cpp_example(static, case, tmp_path)


def test_examples_against_pip_package(pip_cmake_dir, resnet_archives, tmp_path):
    case = resnet_archives.get("resnet18", 1)
    cpp = _build_example("cpp", pip_cmake_dir, tmp_path / "cpp")
    _check_cpp_example(cpp, case, tmp_path)
    c = _build_example("c", pip_cmake_dir, tmp_path / "c")
    _check_c_example(c, case, tmp_path)


@pytest.mark.parametrize("where", ["install", "pip"])
def test_c_example_with_pkg_config(where, install_prefix, pip_cmake_dir, resnet_archives, tmp_path):
    """cc main.c $(pkg-config --cflags --libs deployrt), with the .pc file found by its own location."""
    if shutil.which("pkg-config") is None:
        pytest.fail("pkg-config is not installed (the Makefile's system-deps installs it)")
    pc_dir = install_prefix / "lib" / "pkgconfig" if where == "install" else pip_cmake_dir.parent.parent / "pkgconfig"
    env = dict(os.environ, PKG_CONFIG_PATH=str(pc_dir))
    flags = _run(["pkg-config", "--cflags", "--libs", "deployrt"], "pkg-config", env=env).stdout.split()
    libdir = _run(["pkg-config", "--variable=libdir", "deployrt"], "pkg-config", env=env).stdout.strip()
    assert Path(libdir, "libdeployrt.so").is_file(), libdir
    exe = tmp_path / "c_example"
    _run(["cc", "-std=c99", "-Wall", REPO_ROOT / "examples" / "c" / "main.c", *flags, f"-Wl,-rpath,{libdir}",
          "-o", exe], "cc with pkg-config flags")
    _check_c_example(exe, resnet_archives.get("resnet18", 1), tmp_path)


def _stripped_size(path: Path, tmp_path: Path) -> int:
    out = tmp_path / (path.name + ".stripped")
    _run(["strip", "-o", out, path], "strip")
    return out.stat().st_size


def test_build_with_only_the_archives_ops(tmp_path, deployrt_run):
    """-DDEPLOYRT_OPS_FROM_ARCHIVE: the runtime has only the archive's ops; others are kUnsupported by name."""
    import torch

    import deploykit

    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU()).eval()
    x = torch.randn(2, 5)
    small_model = tmp_path / "linear.dkr"
    graph = deploykit.export(linear, (x,), small_model)
    conv_model = tmp_path / "conv.dkr"
    deploykit.export(torch.nn.Conv2d(2, 2, 1).eval(), (torch.randn(1, 2, 3, 3),), conv_model)
    listed = _run([sys.executable, REPO_ROOT / "scripts" / "archive-ops.py", small_model], "archive-ops.py")
    from deploykit.ir.ops import schema

    used = sorted({n.op for n in graph.nodes}, key=lambda op: schema(op).code)
    assert listed.stdout.strip() == ",".join(used)
    assert "conv2d" not in used

    build = tmp_path / "small"
    _run(["cmake", "-S", REPO_ROOT, "-B", build, *GENERATOR, "-DCMAKE_BUILD_TYPE=Release",
          f"-DDEPLOYRT_OPS_FROM_ARCHIVE={small_model}"], "configuring a small build")
    _run(["cmake", "--build", build, "--target", "deployrt-run"], "building the small deployrt-run")
    run = build / "deployrt-run"

    np.save(tmp_path / "x.npy", x.numpy())
    _run([run, small_model, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"], "small deployrt-run")
    with torch.no_grad():
        assert_close_to_torch(np.load(tmp_path / "y.npy"), linear(x).numpy(), what="small build output")

    np.save(tmp_path / "c.npy", np.zeros((1, 2, 3, 3), dtype=np.float32))
    proc = subprocess.run([str(run), str(conv_model), "--input", str(tmp_path / "c.npy"), "--output",
                           str(tmp_path / "o.npy")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "unsupported" in proc.stderr and "conv2d (code 1)" in proc.stderr, proc.stderr
    assert _stripped_size(run, tmp_path) < _stripped_size(Path(deployrt_run), tmp_path)
