"""Fixtures shared by the deploykit test suite.

The parity bound lives in helpers.assert_close_to_torch; the ResNet archives are
exported once per session (export + the torch reference are the expensive part)
and shared by test_resnet_e2e.py and test_cpp_example.py.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import PYTHON_SRC, deploykit_run_bin

# Tests import the package from the source tree unless it is already importable
# (e.g. installed into the venv by `pip install .`, which also builds _runtime).
try:
    import deploykit  # noqa: F401
except ImportError:
    sys.path.insert(0, str(PYTHON_SRC))

import models


@pytest.fixture
def archive_dir(tmp_path):
    """A fresh directory for the archives a test writes."""
    d = tmp_path / "archives"
    d.mkdir()
    return d


@pytest.fixture
def torch_gen():
    """A seeded generator, so every test draws the same inputs on every run."""
    return torch.Generator().manual_seed(20240611)


@pytest.fixture
def deployrt_run():
    """Path of the deployrt-run binary; the test fails (not skips) when it is missing."""
    return deploykit_run_bin()


@dataclass
class ResNetCase:
    arch: str
    batch: int
    archive: Path
    input: np.ndarray  # float32, C-order, [batch, 3, 224, 224]
    expected: np.ndarray  # torch logits, [batch, 1000]
    input_npy: Path  # the same input saved as .npy, for the CLIs and the C++ example


class ResNetArchives:
    """Exports each (arch, batch) once per session and remembers torch's logits for it."""

    def __init__(self, root: Path):
        self.root = root
        self._models = {}
        self._cases = {}

    def model(self, arch: str):
        if arch not in self._models:
            self._models[arch] = models.make_resnet(arch, seed=0)
        return self._models[arch]

    def get(self, arch: str, batch: int) -> ResNetCase:
        key = (arch, batch)
        if key not in self._cases:
            import deploykit

            model = self.model(arch)
            gen = torch.Generator().manual_seed(1000 + batch)
            x = torch.randn(batch, 3, 224, 224, generator=gen)
            with torch.no_grad():
                expected = model(x.clone()).numpy()
            path = self.root / f"{arch}_b{batch}.dkr"
            deploykit.export(model, (x.clone(),), str(path))
            assert path.is_file(), f"deploykit.export wrote no archive at {path}"
            npy = self.root / f"{arch}_b{batch}_input.npy"
            np.save(npy, x.numpy())
            self._cases[key] = ResNetCase(arch, batch, path, x.numpy(), expected, npy)
        return self._cases[key]


@pytest.fixture(scope="session")
def resnet_archives(tmp_path_factory):
    return ResNetArchives(tmp_path_factory.mktemp("resnet_archives"))
