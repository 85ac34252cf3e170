"""ResNet-18/34/50 end to end: export, load in libdeployrt, compare logits with torch.

Random weights with randomized BatchNorm (so BN folding is exercised), 224x224
inputs at batch 1 and 4. Each (arch, batch) is exported once per session by the
resnet_archives fixture (conftest.py) and shared with test_cpp_example.py.
"""

import numpy as np
import pytest
import torch

import deploykit
from helpers import assert_close_to_torch

ARCHS = ["resnet18", "resnet34", "resnet50"]
BATCHES = [1, 4]


@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("arch", ARCHS)
def test_resnet_logits_match_torch(arch, batch, resnet_archives):
    case = resnet_archives.get(arch, batch)
    module = deploykit.load(str(case.archive))

    assert [tuple(s) for _, _, s in module.inputs] == [(batch, 3, 224, 224)]
    assert [tuple(s) for _, _, s in module.outputs] == [(batch, 1000)]

    logits = module(case.input)
    assert_close_to_torch(logits, case.expected, what=f"{arch} batch {batch} logits")
    # The decision a user acts on: the same top-1 class for every image.
    np.testing.assert_array_equal(logits.argmax(axis=1), case.expected.argmax(axis=1))


def test_resnet_thread_count_does_not_change_results(resnet_archives):
    """One and two intra-op threads must give bit-identical logits (work is split, not reordered)."""
    case = resnet_archives.get("resnet18", 4)
    one = deploykit.load(str(case.archive), num_threads=1)(case.input)
    two = deploykit.load(str(case.archive), num_threads=2)(case.input)
    assert_close_to_torch(one, case.expected, what="num_threads=1 logits")
    assert_close_to_torch(two, case.expected, what="num_threads=2 logits")
    mismatch = np.flatnonzero(one != two)
    assert mismatch.size == 0, (
        f"num_threads=1 and num_threads=2 differ at {mismatch.size} of {one.size} logits "
        f"(max |diff| {np.max(np.abs(one - two)):.3e})"
    )


def test_resnet_accepts_torch_tensor_and_repeated_calls(resnet_archives):
    """Module(torch.Tensor) works like Module(ndarray), and a second forward reuses the arena correctly."""
    case = resnet_archives.get("resnet18", 1)
    module = deploykit.load(str(case.archive))
    first = module(torch.from_numpy(case.input.copy()))
    assert isinstance(first, np.ndarray)
    snapshot = first.copy()
    other = module(np.ascontiguousarray(case.input[:, :, ::-1, :]))
    again = module(case.input)
    assert_close_to_torch(first, case.expected)
    assert not np.array_equal(other, snapshot), "a different image gave identical logits"
    np.testing.assert_array_equal(again, snapshot)
    # Outputs are fresh arrays: later calls must not have written into the first result.
    np.testing.assert_array_equal(first, snapshot)
