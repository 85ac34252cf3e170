"""One loaded module used from many Python threads at once (BAD_INPUTS.md case 23).

forward() releases the GIL and takes a per-call arena, so these calls really overlap
in the runtime; every result must be bit-identical to the sequential one.
"""

import threading

import numpy as np
import pytest
import torch

import deploykit
from every_op_model import INPUT_SHAPE, export_every_op

THREADS = 8
CALLS = 1000
DISTINCT = 16


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    path = tmp_path_factory.mktemp("concurrency") / "every_op.dkr"
    export_every_op(path)
    return path


def _inputs():
    gen = torch.Generator().manual_seed(7)
    return [torch.randn(*INPUT_SHAPE, generator=gen).numpy() for _ in range(THREADS * DISTINCT)]


@pytest.mark.parametrize("num_threads,max_calls", [(1, None), (2, 8), (2, 2)])
def test_eight_threads_times_thousand_calls_match_sequential(archive, num_threads, max_calls):
    module = deploykit.load(str(archive), num_threads=num_threads, max_concurrent_calls=max_calls)
    xs = _inputs()
    expected = [module(x) for x in xs]
    failures = []
    barrier = threading.Barrier(THREADS)

    def worker(t):
        barrier.wait()  # start together, so calls overlap
        for c in range(CALLS):
            k = t * DISTINCT + c % DISTINCT
            # Alternate numpy and torch inputs: both paths must be thread-safe.
            x = xs[k] if c % 2 == 0 else torch.from_numpy(xs[k])
            y = module(x)
            if not np.array_equal(y, expected[k]):
                failures.append((t, c))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failures, f"{len(failures)} of {THREADS * CALLS} concurrent calls differ from sequential, e.g. {failures[:5]}"


def test_errors_in_concurrent_calls_stay_typed(archive):
    """Bad inputs on some threads do not disturb good calls on others."""
    module = deploykit.load(str(archive), num_threads=1)
    x = _inputs()[0]
    want = module(x)
    problems = []

    def good():
        for _ in range(200):
            if not np.array_equal(module(x), want):
                problems.append("mismatch")

    def bad():
        for _ in range(200):
            try:
                module(np.zeros((2, 3, 8, 8), np.float32))
                problems.append("bad input accepted")
            except deploykit.InputError:
                pass

    threads = [threading.Thread(target=f) for f in (good, bad, good, bad)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not problems, problems[:5]
