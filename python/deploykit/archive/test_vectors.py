"""The optional TEST_VECTORS section (kind 6, format 1.1; docs/archive-format.md).

Sample inputs and the outputs PyTorch computed for them, so that `deployrt-run --selftest`
can prove on the device that the runtime reproduces PyTorch. The tensors themselves are
entries of the TENSORS table (data in WEIGHTS, 64-byte aligned); this section holds a
64-byte header and, per vector, the tensor indices of its inputs then its outputs.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np

HEADER_SIZE = 64
# The parity bound of tests/helpers.py: max|actual - expected| <= RTOL * max|expected| + ATOL.
DEFAULT_RTOL = 1e-4
DEFAULT_ATOL = 1e-5


@dataclass
class TestVectors:
    """vectors[v] = (inputs, expected outputs), numpy arrays in graph input/output order."""

    __test__ = False  # not a pytest class

    vectors: List[tuple] = field(default_factory=list)
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


def pack(count: int, input_count: int, output_count: int, rtol: float, atol: float,
         tensor_indices: Sequence[int]) -> bytes:
    """The section bytes; tensor_indices lists, per vector, its input then output tensor indices."""
    header = struct.pack("<IIIIdd", count, input_count, output_count, 0, rtol, atol) + bytes(32)
    return header + struct.pack(f"<{len(tensor_indices)}I", *tensor_indices)


def parse(data: memoryview, offset: int, size: int, minor: int, tensors, graph, fail) -> TestVectors:
    """Verifies the section at [offset, offset+size) against the tensor table and graph 0.

    tensors: the reader's [(name, dtype, shape, array)]; fail(message) raises ArchiveError.
    """
    def error(message: str):
        fail(f"TEST_VECTORS: {message}")

    if minor < 1:
        error("the section needs format version 1.1 or later, the archive is 1.0")
    if size < HEADER_SIZE:
        error(f"section is {size} bytes, shorter than its {HEADER_SIZE}-byte header")
    count, n_in, n_out, reserved, rtol, atol = struct.unpack_from("<IIIIdd", data, offset)
    if reserved:
        error("reserved field at section offset 12 is not zero")
    if any(data[offset + 32:offset + HEADER_SIZE]):
        error("reserved bytes at section offsets 32..63 are not zero")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(v) and v >= 0):
            error(f"{name} is {v}, expected finite and >= 0")
    if count == 0:
        error("count is 0, expected >= 1")
    if n_in != len(graph.inputs):
        error(f"input_count is {n_in}, graph 0 has {len(graph.inputs)} inputs")
    if n_out != len(graph.outputs):
        error(f"output_count is {n_out}, graph 0 has {len(graph.outputs)} outputs")
    expected = HEADER_SIZE + 4 * count * (n_in + n_out)
    if size != expected:
        error(f"count {count} x ({n_in} inputs + {n_out} outputs) implies {expected} bytes, the section has {size}")
    wanted = [(v.dtype, tuple(v.shape)) for v in list(graph.inputs) + list(graph.outputs)]
    indices = struct.unpack_from(f"<{count * (n_in + n_out)}I", data, offset + HEADER_SIZE)
    result = TestVectors(rtol=rtol, atol=atol)
    per = n_in + n_out
    for v in range(count):
        arrays = []
        for k in range(per):
            index = indices[v * per + k]
            what = f"vector {v} input {k}" if k < n_in else f"vector {v} output {k - n_in}"
            if index >= len(tensors):
                error(f"{what}: tensor index {index} >= tensor count {len(tensors)}")
            _, dtype, shape, array = tensors[index]
            if (dtype, tuple(shape)) != wanted[k]:
                error(f"{what}: tensor {index} is {dtype}{list(shape)}, expected {wanted[k][0]}{list(wanted[k][1])}")
            arrays.append(array)
        result.vectors.append((arrays[:n_in], arrays[n_in:]))
    return result


def compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> dict:
    """max_abs, max_rel (max_abs / max|expected|), tolerance and passed, as the C++ selftest computes them."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    finite = np.isfinite(e)
    max_expected = float(np.max(np.abs(e[finite]))) if finite.any() else 0.0
    both_nan = np.isnan(a) & np.isnan(e)
    with np.errstate(invalid="ignore"):
        diff = np.where((a == e) | both_nan, 0.0, np.abs(a - e))
    diff = np.where(np.isfinite(diff), diff, np.inf)
    max_abs = float(diff.max()) if diff.size else 0.0
    tolerance = rtol * max_expected + atol
    return {"max_abs": max_abs, "max_rel": max_abs / max_expected if max_expected > 0 else max_abs,
            "tolerance": tolerance, "passed": max_abs <= tolerance}

