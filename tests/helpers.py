"""Shared test helpers: the parity bound, export-and-run round trips, locating tools.

Kept out of conftest.py so test modules can import them by name (pytest puts
tests/ on sys.path in its default import mode).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON_SRC = REPO_ROOT / "python"

# The project's one parity bound: max|deploykit - torch| <= REL * max|torch| + ABS.
PARITY_REL = 1e-4
PARITY_ABS = 1e-5


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def assert_close_to_torch(actual, expected, what="output"):
    """Fails unless `actual` (deploykit) is within the project's parity bound of `expected` (torch)."""
    actual = to_numpy(actual)
    expected = to_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch gives {expected.shape}"
    assert actual.dtype == np.float32, f"{what}: dtype {actual.dtype}, expected float32"
    expected = expected.astype(np.float32)
    if expected.size == 0:
        return
    assert np.isfinite(expected).all(), f"{what}: the torch reference itself is not finite; fix the test"
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    scale = float(np.max(np.abs(expected)))
    bound = PARITY_REL * scale + PARITY_ABS
    # NaN in `actual` makes max() NaN, and NaN <= bound is False: a NaN never passes.
    worst = float(np.max(diff))
    if not worst <= bound:
        idx = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape)
        raise AssertionError(
            f"{what}: max|deploykit - torch| = {worst:.3e} exceeds bound {bound:.3e} "
            f"(= {PARITY_REL:g} * max|torch| {scale:.3e} + {PARITY_ABS:g}); worst at index {tuple(int(i) for i in idx)}: "
            f"deploykit {actual[idx]!r}, torch {expected[idx]!r}"
        )


def clone_inputs(inputs):
    """Fresh copies, because models with in-place ops (relu_, add_) mutate their inputs."""
    return tuple(t.clone() for t in inputs)


def torch_reference(model, inputs):
    with torch.no_grad():
        out = model(*clone_inputs(inputs))
    if isinstance(out, (tuple, list)):
        return tuple(to_numpy(o) for o in out)
    return to_numpy(out)


def export_and_load(model, inputs, path, **load_kwargs):
    """Exports `model` traced on `inputs` to `path` and loads it in the runtime."""
    import deploykit

    deploykit.export(model, clone_inputs(inputs), str(path))
    assert Path(path).is_file(), f"deploykit.export returned but wrote no file at {path}"
    return deploykit.load(str(path), **load_kwargs)


def check_parity(model, inputs, path, **load_kwargs):
    """Export -> load (with `load_kwargs`) -> run, and compare every output with torch. Returns the runtime outputs."""
    model = model.eval()
    expected = torch_reference(model, inputs)
    module = export_and_load(model, inputs, path, **load_kwargs)
    # Fed as numpy, the runtime's native form; tests of the Module API feed torch tensors too.
    actual = module(*(to_numpy(t).copy() for t in clone_inputs(inputs)))
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple), f"model has {len(expected)} outputs; runtime returned {type(actual)}"
        assert len(actual) == len(expected), f"runtime returned {len(actual)} outputs, torch {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close_to_torch(a, e, what=f"output {i}")
    else:
        assert isinstance(actual, np.ndarray), f"one output expected as numpy array, got {type(actual)}"
        assert_close_to_torch(actual, expected)
    return actual


def deploykit_import_root():
    """The sys.path entry this process imports deploykit from (source tree or site-packages)."""
    import deploykit

    return Path(deploykit.__file__).parent.parent


def subprocess_env(extra_pythonpath=()):
    """Environment for child processes: they import the same deploykit as the tests do."""
    env = dict(os.environ)
    paths = [str(p) for p in extra_pythonpath] + [str(deploykit_import_root())]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def deploykit_cli(args, cwd=None, extra_pythonpath=(), timeout=600):
    """Runs the `deploykit` console script's entry point (deploykit.cli:main) in a child process.

    Going through `sys.executable -c` rather than a `deploykit` on PATH tests the
    source tree under test, not whatever version happens to be installed.
    """
    cmd = [sys.executable, "-c", "import sys; from deploykit.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.run(
        cmd, cwd=cwd, env=subprocess_env(extra_pythonpath), capture_output=True, text=True, timeout=timeout
    )


def deploykit_run_bin():
    """Path of the C++ CLI `deployrt-run`; fails the calling test with a clear message if absent.

    Looked up, in order: $DEPLOYRT_RUN, PATH, next to sys.executable (where pip
    installs scripts in a venv), then the CMake build tree build/cpp.
    """
    candidates = []
    if os.environ.get("DEPLOYRT_RUN"):
        candidates.append(Path(os.environ["DEPLOYRT_RUN"]))
    on_path = shutil.which("deployrt-run")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(Path(sys.executable).parent / "deployrt-run")
    candidates.append(REPO_ROOT / "build" / "cpp" / "deployrt-run")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    import pytest

    pytest.fail(
        "deployrt-run not found (looked at $DEPLOYRT_RUN, PATH, "
        f"{Path(sys.executable).parent}, {REPO_ROOT / 'build' / 'cpp'}); "
        "install the package (`make python-install`) or build it (`make cpp-build`)"
    )
