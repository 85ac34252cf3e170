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


# The extension is imported with the package, not by the first load(): loading the shared
# library and registering its bindings (~1 ms) is a start-up cost of the library, like
# onnxruntime's, not of loading an archive. Without a built extension (export only) the
# import still succeeds; load() then reports it.
try:
    from . import _runtime as _RUNTIME
except ImportError:
    _RUNTIME = None


def _runtime_module():
    if _RUNTIME is not None:
        return _RUNTIME
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
    """A numpy view of an input, without copying when it already is CPU memory.

    Accepted: numpy arrays, torch tensors (CPU tensors are viewed, others copied to the
    CPU), any object with __dlpack__ (CPU memory, via np.from_dlpack) and any
    buffer-protocol object (bytearray, array.array, memoryview, ...: viewed as its items).
    """
    if isinstance(obj, np.ndarray):
        return obj
    if _is_torch_tensor(obj):
        # detach() and cpu() of a CPU tensor are views; .numpy() shares the tensor's memory.
        return obj.detach().cpu().numpy()
    if hasattr(obj, "__dlpack__"):
        try:
            return np.from_dlpack(obj)
        except (TypeError, RuntimeError, BufferError, ValueError) as e:
            raise InputError(f"input {index} ('{name}'): cannot view {type(obj).__name__} through DLPack "
                             f"({e}); pass CPU memory") from None
    try:
        return np.asarray(memoryview(obj))
    except (TypeError, ValueError):
        raise InputError(f"input {index} ('{name}'): expected a numpy array, torch tensor, DLPack or "
                         f"buffer-protocol object, got {type(obj).__name__}") from None


def _is_python_scalar(obj) -> bool:
    return isinstance(obj, (bool, int, float))


def _scalar_to_numpy(obj, index: int, name: str, dtype: str) -> np.ndarray:
    """A 0-d array for a Python scalar input (a scripted signature's int, float or bool).

    int -> i64[], float -> f32[] (TorchScript's double narrowed to f32, as the archive
    stores it), bool -> bool[]. An int also fills an f32 input (Python promotes it in
    arithmetic); any other pairing is an InputError, not a silent cast.
    """
    if isinstance(obj, bool):
        ok = dtype == "bool"
    elif isinstance(obj, int):
        ok = dtype in ("i64", "f32")
        if dtype == "i64" and not -(2 ** 63) <= obj < 2 ** 63:
            raise InputError(f"input {index} ('{name}'): {obj} does not fit in i64")
    else:
        ok = dtype == "f32"
    if not ok:
        raise InputError(f"input {index} ('{name}'): expected {dtype}, got a Python {type(obj).__name__}")
    return np.array(obj, dtype=NUMPY_DTYPES[dtype])


class Module:
    """A loaded archive. Call it with the model's inputs (numpy arrays or torch tensors)."""

    def __init__(self, native, path: str):
        self._native = native
        self._path = path
        self._inputs = [(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in native.inputs]
        self._outputs = [(str(n), str(d), tuple(int(x) for x in s)) for n, d, s in native.outputs]
        self._metadata = None
        self._ir = None

    @property
    def inputs(self) -> List[Tuple[str, str, Tuple[int, ...]]]:
        return list(self._inputs)

    @property
    def input_dim_names(self) -> List[List[str]]:
        """Per input, each dim's symbol name ("N"), "" for a fixed dim; [] when all are fixed."""
        return [list(names) for names in self._native.input_dim_names]

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

    @property
    def ir(self):
        """The archive's graph as a deploykit IR Graph (read by the Python reader, cached)."""
        if self._ir is None:
            from .archive.reader import read_graph

            self._ir = read_graph(self._path)
        return self._ir

    @property
    def graph(self) -> str:
        """Typed SSA text of the graph, every value with dtype and shape (like TorchScript's .graph)."""
        from .ir.printer import format_graph

        return format_graph(self.ir)

    @property
    def code(self) -> str:
        """A readable Python-like forward (like TorchScript's .code)."""
        from .views.code import format_code

        return format_code(self.ir)

    def __call__(self, *inputs) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
        outputs = self._native.forward(self._check_inputs(inputs))
        if len(outputs) == 1:
            return outputs[0]
        return tuple(outputs)

    def _check_inputs(self, inputs) -> List[np.ndarray]:
        """Numpy arrays of the right count, dtype and shape, C-contiguous; else InputError."""
        if len(inputs) != len(self._inputs):
            raise InputError(f"the model takes {len(self._inputs)} input(s) "
                             f"({', '.join(n for n, _, _ in self._inputs)}), got {len(inputs)}")
        arrays = []
        for i, (obj, (name, dtype, shape)) in enumerate(zip(inputs, self._inputs)):
            array = _scalar_to_numpy(obj, i, name, dtype) if _is_python_scalar(obj) else _to_numpy(obj, i, name)
            expected = NUMPY_DTYPES.get(dtype)
            # No silent casts: a float64 array for an f32 model is a caller bug worth reporting.
            if expected is not None and array.dtype != expected:
                raise InputError(f"input {i} ('{name}'): expected dtype {dtype} ({expected}), got {array.dtype}")
            # -1: a symbolic dim (dynamic shapes): the runtime checks those inputs itself,
            # naming the dim and symbol.
            if -1 not in shape and tuple(array.shape) != shape:
                raise InputError(f"input {i} ('{name}'): expected shape {list(shape)}, got {list(array.shape)}")
            # copy(order='C'), not ascontiguousarray, which turns 0-d arrays into 1-d ones.
            arrays.append(array if array.flags.c_contiguous else array.copy(order="C"))
        return arrays

    forward = __call__

    def forward_debug(self, *inputs) -> List[Tuple[str, str, str, np.ndarray]]:
        """(node name, op, value name, array) for every node output, in execution order (slow)."""
        return [(str(n), str(o), str(v), a) for n, o, v, a in self._native.forward_debug(self._check_inputs(inputs))]

    def selftest(self) -> List[dict]:
        """Runs the archive's embedded test vectors: one dict per output check
        (vector, output, name, max_abs, max_rel, tolerance, passed)."""
        return list(self._native.selftest())

    @property
    def num_test_vectors(self) -> int:
        return int(self._native.num_test_vectors)

    def _input_data_pointers(self, *inputs) -> List[int]:
        """The addresses forward() hands the runtime for these inputs (tests prove no copy was made)."""
        return list(self._native.input_data_pointers(self._check_inputs(inputs)))

    def profile(self, *inputs, runs: int = 1) -> List[dict]:
        """Runs the model `runs` times (no untimed warm-up) timing every node.

        One dict per node in execution order: name, op, milliseconds (mean per run) and
        flops (per run, from the node's shapes; 2 per multiply-add).
        """
        if not isinstance(runs, int) or runs < 1:
            raise InputError(f"runs must be a positive int, got {runs!r}")
        return list(self._native.profile(self._check_inputs(inputs), runs))

    def __repr__(self) -> str:
        ins = ", ".join(f"{n}: {d}{list(s)}" for n, d, s in self._inputs)
        outs = ", ".join(f"{n}: {d}{list(s)}" for n, d, s in self._outputs)
        return f"deploykit.Module('{self._path}', inputs=[{ins}], outputs=[{outs}])"


def _check_load_options(num_threads, max_arena_bytes, max_concurrent_calls):
    for name, value, low in (("num_threads", num_threads, 1), ("max_arena_bytes", max_arena_bytes, 1),
                             ("max_concurrent_calls", max_concurrent_calls, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise InputError(f"{name} must be a positive int or None, got {value!r}")


def load(path: Union[str, os.PathLike], num_threads: Optional[int] = None, *, copy: bool = False,
         max_arena_bytes: Optional[int] = None, max_concurrent_calls: Optional[int] = None,
         compact_weights: bool = False) -> Module:
    """Loads and verifies an archive. num_threads=None uses every hardware thread.

    copy=True reads the file into memory instead of mapping it (a mapped file truncated
    by another process while loaded raises SIGBUS; a copy cannot, see docs/SECURITY.md).
    max_arena_bytes refuses (LimitError) models needing a larger activation arena;
    max_concurrent_calls bounds how many calls run at once on the module (None: one
    per hardware thread; the module is safe to call from many threads).
    compact_weights=True keeps weights near their archive size at some cost in speed
    (deployrt::LoadOptions::compact_weights: the Winograd convs of 14x14-like layers
    transform their weights on each call instead of keeping a copy 4x the size).
    """
    path = os.fspath(path)
    _check_load_options(num_threads, max_arena_bytes, max_concurrent_calls)
    if not os.path.exists(path):
        raise ArchiveIOError(f"cannot open archive '{path}': no such file")
    native = _runtime_module().Module.load(path, num_threads or 0, bool(copy), max_arena_bytes or 0,
                                           max_concurrent_calls or 0, bool(compact_weights))
    return Module(native, path)


def load_bytes(data, num_threads: Optional[int] = None, *, max_arena_bytes: Optional[int] = None,
               max_concurrent_calls: Optional[int] = None, compact_weights: bool = False) -> Module:
    """Loads and verifies an archive held in memory (any bytes-like object); the bytes are copied."""
    _check_load_options(num_threads, max_arena_bytes, max_concurrent_calls)
    native = _runtime_module().Module.load_bytes(data, num_threads or 0, max_arena_bytes or 0,
                                                 max_concurrent_calls or 0, bool(compact_weights))
    return Module(native, "<memory>")
