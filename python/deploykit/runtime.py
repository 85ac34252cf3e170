"""deploykit.load(): a thin Python wrapper over the C++ runtime (deploykit._runtime).

Neither importing deploykit nor running an archive needs torch; torch tensors passed
as inputs are converted without importing torch (duck typing on .detach/.cpu/.numpy).
"""

from __future__ import annotations

import json
import os
from typing import List, Optional, Tuple, Union

import numpy as np

from .errors import ArchiveIOError, InputError, InternalError
from .ir.graph import NUMPY_DTYPES


def _runtime_module():
    try:
        from . import _runtime
    except ImportError as e:
        raise InternalError(
            "the C++ runtime extension deploykit._runtime is not built or cannot be imported "
            f"({e}); reinstall deploykit with `pip install .`") from None
    return _runtime


def _is_torch_tensor(obj) -> bool:
    cls = type(obj)
    return cls.__module__.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "numpy")


def _to_numpy(obj, index: int, name: str) -> np.ndarray:
    if _is_torch_tensor(obj):
        obj = obj.detach().cpu().contiguous().numpy()
    if not isinstance(obj, np.ndarray):
        raise InputError(f"input {index} ('{name}'): expected a numpy array or torch tensor, "
                         f"got {type(obj).__name__}")
    return obj


class Module:
    """A loaded archive. Call it with the model's inputs (numpy arrays or torch tensors)."""

    def __init__(self, native, path: str):
        self._native = native
        self._path = path
        self._inputs = [(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in native.inputs]
        self._outputs = [(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in native.outputs]
        self._metadata = None

    @property
    def inputs(self) -> List[Tuple[str, str, Tuple[int, ...]]]:
        return list(self._inputs)

    @property
    def outputs(self) -> List[Tuple[str, str, Tuple[int, ...]]]:
        return list(self._outputs)

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            try:
                parsed = json.loads(self._native.metadata)
            except ValueError:
                parsed = {}
            self._metadata = parsed if isinstance(parsed, dict) else {}
        return dict(self._metadata)

    @property
    def arena_bytes(self) -> int:
        return int(self._native.arena_bytes)

    @property
    def num_threads(self) -> int:
        return int(self._native.num_threads)

    @property
    def num_nodes(self) -> int:
        return int(self._native.num_nodes)

    @property
    def path(self) -> str:
        return self._path

    def __call__(self, *inputs) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
        if len(inputs) != len(self._inputs):
            raise InputError(f"the model takes {len(self._inputs)} input(s) "
                             f"({', '.join(n for n, _, _ in self._inputs)}), got {len(inputs)}")
        arrays = []
        for i, (obj, (name, dtype, shape)) in enumerate(zip(inputs, self._inputs)):
            array = _to_numpy(obj, i, name)
            expected = NUMPY_DTYPES.get(dtype)
            # No silent casts: a float64 array for an f32 model is a caller bug worth reporting.
            if expected is not None and array.dtype != expected:
                raise InputError(f"input {i} ('{name}'): expected dtype {dtype} ({expected}), got {array.dtype}")
            if tuple(array.shape) != shape:
                raise InputError(f"input {i} ('{name}'): expected shape {list(shape)}, got {list(array.shape)}")
            # copy(order='C'), not ascontiguousarray, which turns 0-d arrays into 1-d ones.
            arrays.append(array if array.flags.c_contiguous else array.copy(order="C"))
        outputs = self._native.forward(arrays)
        if len(outputs) == 1:
            return outputs[0]
        return tuple(outputs)

    forward = __call__

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {d}{list(s)}" for n, d, s in self._inputs)
        outs = ", ".join(f"{n}: {d}{list(s)}" for n, d, s in self._outputs)
        return f"deploykit.Module('{self._path}', inputs=[{ins}], outputs=[{outs}])"


def load(path: Union[str, os.PathLike], num_threads: Optional[int] = None) -> Module:
    """Loads and verifies an archive. num_threads=None uses every hardware thread."""
    path = os.fspath(path)
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise InputError(f"num_threads must be a positive int or None, got {num_threads!r}")
    if not os.path.exists(path):
        raise ArchiveIOError(f"cannot open archive '{path}': no such file")
    native = _runtime_module().Module.load(path, 0 if num_threads is None else num_threads)
    return Module(native, path)
