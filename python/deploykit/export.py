"""deploykit.export(): PyTorch model -> .dkr archive."""

from __future__ import annotations

import os
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Union

from .errors import ExportError
from .ir.graph import Graph
from .ir.verify import verify_graph


def _example_tuple(example_inputs, allow_scalars: bool = False):
    """allow_scalars: Python int / float / bool examples pass through (scripted models declare
    such inputs in their signature; frontend/script.py checks them against it)."""
    import torch

    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)) or not example_inputs:
        raise ExportError("example_inputs must be a tensor or a non-empty tuple of tensors, "
                          f"got {type(example_inputs).__name__}")
    for i, t in enumerate(example_inputs):
        if allow_scalars and isinstance(t, (bool, int, float)):
            continue
        if not isinstance(t, torch.Tensor):
            raise ExportError(f"example input {i} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype != torch.float32:
            raise ExportError(f"example input {i} is {str(t.dtype).replace('torch.', '')}; "
                              "deploykit 1.0 models take float32 inputs")
    return tuple(t.detach().cpu() if isinstance(t, torch.Tensor) else t for t in example_inputs)


def write_atomically(path: Union[str, os.PathLike], data: bytes) -> None:
    """Temp file in the destination directory + os.replace: a failed export leaves no partial file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ExportError(f"cannot write '{path}': directory '{directory}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".deploykit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ExportError(f"cannot write '{path}': {e.strerror or e}") from None
    except BaseException:
        os.unlink(tmp)
        raise


def _check_passes(passes, optimize: bool) -> Optional[List[str]]:
    """passes=... as a list of names ("a,b" splits); unknown names fail before the (slow) capture."""
    if passes is not None and isinstance(passes, str):
        passes = [p.strip() for p in passes.split(",") if p.strip()]
    if passes is not None and not optimize:
        raise ExportError("passes=... chooses the optimization passes; it cannot be combined with optimize=False")
    if passes is not None:
        from .passes import make_passes

        make_passes(passes)
    return passes


def _run_passes(graph: Graph, passes: Optional[List[str]], optimize: bool, print_after_all: bool,
                printer: Optional[Callable[[str], None]]):
    """(optimized graph, names of the passes run): the default pipeline unless passes names others."""
    ran: List[str] = []
    if optimize:
        from .passes import DEFAULT_PIPELINE, optimize as run_passes

        ran = list(DEFAULT_PIPELINE if passes is None else passes)
        graph = run_passes(graph, ran, print_after_all=print_after_all, printer=printer)
        verify_graph(graph, ExportError)
    elif print_after_all:
        (printer or (lambda text: print(text, end="")))("// no passes run (optimize=False)\n")
    return graph, ran


def export(model, example_inputs: Union["torch.Tensor", Sequence["torch.Tensor"]],  # noqa: F821
           path: Union[str, os.PathLike], *, method: str = "trace", optimize: bool = True,
           passes: Optional[Sequence[str]] = None, print_after_all: bool = False,
           printer: Optional[Callable[[str], None]] = None, embed_test_vectors: bool = False,
           dynamic_dims: Optional[Dict[Union[str, int], Dict[int, str]]] = None,
           prepack: Union[bool, str] = False) -> Graph:
    """Exports model (nn.Module, ScriptModule or path to a TorchScript .pt) to the archive at path.

    dynamic_dims: symbolic input dims, {input name or position: {dim: symbol}}, e.g.
    {"x": {0: "N", 2: "H", 3: "W"}}: the archive (format 1.2) then runs any size of those
    dims the model can take (deploykit/dynamic.py); every dim named N takes the same size.

    method: "trace" (torch.jit.trace) or "export" (torch.export; also taken when model is a
    torch.export.ExportedProgram, whose own example inputs are used when example_inputs is None).

    optimize: run the optimization passes (deploykit.passes.DEFAULT_PIPELINE) before writing.
    passes: names of the passes to run instead of the default pipeline (implies optimize).
    print_after_all: print the graph after every pass (to stdout, or to ``printer``).
    embed_test_vectors: store example_inputs and PyTorch's outputs for them in the archive
    (format 1.1 TEST_VECTORS), for `deployrt-run --selftest` and `deploykit verify`.
    prepack: also store the conv/linear weights packed by the C++ runtime for this host's best
    ISA level (or "scalar", "avx2", "avx512"): format 1.4 PACKED_WEIGHTS, read in place at
    load by a runtime at that level instead of packing them (faster start-up); about doubles the
    archive.
    Returns the IR graph that was written.

    model may also be an ONNX model (a path ending in .onnx, or an onnx.ModelProto): see export_onnx.
    """
    from .frontend.onnx_import import is_onnx_model

    if is_onnx_model(model):
        return export_onnx(model, path, example_inputs, optimize=optimize, passes=passes,
                           print_after_all=print_after_all, printer=printer, embed_test_vectors=embed_test_vectors)
    try:
        import torch
    except ImportError:
        raise ExportError("exporting needs PyTorch: pip install 'deploykit[torch]'") from None
    from .archive.writer import default_metadata, serialize
    from .frontend.torchscript import to_graph

    passes = _check_passes(passes, optimize)
    if method == "export" or isinstance(model, torch.export.ExportedProgram):
        # torch.export route (frontend/torch_export.py); an ExportedProgram carries its own inputs.
        from .frontend import torch_export

        if example_inputs is None and torch_export.is_exported_program(model):
            example_inputs = tuple(model.example_inputs[0]) if model.example_inputs else None
        inputs = _example_tuple(example_inputs)
        graph, captured = torch_export.to_graph(model, inputs)
    else:
        inputs = _example_tuple(example_inputs, allow_scalars=True)
        graph, captured = to_graph(model, inputs, method)
    graph, ran = _run_passes(graph, passes, optimize, print_after_all, printer)
    symbol_sizes = {}
    if dynamic_dims:
        from .dynamic import apply_dynamic_dims

        symbol_sizes = apply_dynamic_dims(graph, dynamic_dims)
        verify_graph(graph, ExportError)
    metadata = default_metadata(source=captured.source, torch_version=torch.__version__)
    if symbol_sizes:
        metadata["symbols"] = symbol_sizes  # export-time sizes: readers print example shapes with them
    # Which passes shaped the archive (`deploykit inspect` shows it; readers ignore unknown keys).
    metadata["passes"] = ran
    test_vectors = _torch_test_vectors(captured.module, inputs, len(graph.outputs)) if embed_test_vectors else None
    write_atomically(path, serialize(graph, metadata, test_vectors))
    if prepack:
        from .archive.packed_weights import prepack_archive

        prepack_archive(path, "best" if prepack is True else str(prepack))
    return graph


def _torch_test_vectors(module, inputs, num_outputs: int):
    """One test vector: the example inputs and what the captured (TorchScript) module returns for them."""
    import torch

    from .archive.test_vectors import TestVectors

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            result = module(*inputs)
    finally:
        module.train(was_training)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(outputs) != num_outputs or not all(isinstance(t, (torch.Tensor, bool, int, float)) for t in outputs):
        raise ExportError(f"embed_test_vectors: the model returned {len(outputs)} value(s), the exported graph has "
                          f"{num_outputs} tensor output(s)")
    import numpy as np

    # A scalar input or output (scripted models) is a 0-d array of its graph value's dtype
    # (int -> i64, float -> f32, bool -> bool).
    def array(t):
        if isinstance(t, torch.Tensor):
            return t.detach().cpu().contiguous().numpy()
        return np.array(t, dtype={bool: np.bool_, int: np.int64, float: np.float32}[type(t)])

    arrays_in = [array(t) for t in inputs]
    arrays_out = [array(t) for t in outputs]
    return TestVectors(vectors=[(arrays_in, arrays_out)])


def export_onnx(model, path: Union[str, os.PathLike], example_inputs=None, *, optimize: bool = True,
                passes: Optional[Sequence[str]] = None, print_after_all: bool = False,
                printer: Optional[Callable[[str], None]] = None, embed_test_vectors: bool = False) -> Graph:
    """Imports an ONNX model (path or onnx.ModelProto; needs the 'onnx' package) and writes the archive.

    example_inputs: None (the model's own static input shapes), or one array per graph input
    (numpy or torch) whose shapes fix the inputs' dims. embed_test_vectors stores those inputs
    (random ones when None) and onnx's reference evaluator's outputs for them.
    Ops, attributes and dtypes the runtime lacks are reported together as UnsupportedOpsError.
    """
    from .archive.writer import default_metadata, serialize
    from .frontend.onnx_import import import_for_export, reference_test_vectors

    passes = _check_passes(passes, optimize)
    graph, onnx_model, arrays = import_for_export(model, example_inputs)
    test_vectors = reference_test_vectors(onnx_model, graph, arrays) if embed_test_vectors else None
    graph, ran = _run_passes(graph, passes, optimize, print_after_all, printer)
    metadata = default_metadata(source="onnx")
    metadata["passes"] = ran
    write_atomically(path, serialize(graph, metadata, test_vectors))
    return graph
