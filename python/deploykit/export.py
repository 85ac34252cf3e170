"""deploykit.export(): PyTorch model -> .dkr archive."""

from __future__ import annotations

import os
import tempfile
from typing import Callable, List, Optional, Sequence, Union

from .errors import ExportError
from .ir.graph import Graph
from .ir.verify import verify_graph


def _example_tuple(example_inputs):
    import torch

    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)) or not example_inputs:
        raise ExportError("example_inputs must be a tensor or a non-empty tuple of tensors, "
                          f"got {type(example_inputs).__name__}")
    for i, t in enumerate(example_inputs):
        if not isinstance(t, torch.Tensor):
            raise ExportError(f"example input {i} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype != torch.float32:
            raise ExportError(f"example input {i} is {str(t.dtype).replace('torch.', '')}; "
                              "deploykit 1.0 models take float32 inputs")
    return tuple(t.detach().cpu() for t in example_inputs)


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


def export(model, example_inputs: Union["torch.Tensor", Sequence["torch.Tensor"]],  # noqa: F821
           path: Union[str, os.PathLike], *, method: str = "trace", optimize: bool = True,
           passes: Optional[Sequence[str]] = None, print_after_all: bool = False,
           printer: Optional[Callable[[str], None]] = None, embed_test_vectors: bool = False) -> Graph:
    """Exports model (nn.Module, ScriptModule or path to a TorchScript .pt) to the archive at path.

    optimize: run the optimization passes (deploykit.passes.DEFAULT_PIPELINE) before writing.
    passes: names of the passes to run instead of the default pipeline (implies optimize).
    print_after_all: print the graph after every pass (to stdout, or to ``printer``).
    embed_test_vectors: store example_inputs and PyTorch's outputs for them in the archive
    (format 1.1 TEST_VECTORS), for `deployrt-run --selftest` and `deploykit verify`.
    Returns the IR graph that was written.
    """
    try:
        import torch
    except ImportError:
        raise ExportError("exporting needs PyTorch: pip install 'deploykit[torch]'") from None
    from .archive.writer import default_metadata, serialize
    from .frontend.torchscript import to_graph

    if passes is not None and isinstance(passes, str):
        passes = [p.strip() for p in passes.split(",") if p.strip()]
    if passes is not None and not optimize:
        raise ExportError("passes=... chooses the optimization passes; it cannot be combined with optimize=False")
    if passes is not None:
        from .passes import make_passes

        make_passes(passes)  # unknown names fail before the (slow) capture
    inputs = _example_tuple(example_inputs)
    graph, captured = to_graph(model, inputs, method)
    ran: List[str] = []
    if optimize:
        from .passes import DEFAULT_PIPELINE, optimize as run_passes

        ran = list(DEFAULT_PIPELINE if passes is None else passes)
        graph = run_passes(graph, ran, print_after_all=print_after_all, printer=printer)
        verify_graph(graph, ExportError)
    elif print_after_all:
        (printer or (lambda text: print(text, end="")))("// no passes run (optimize=False)\n")
    metadata = default_metadata(source=captured.source, torch_version=torch.__version__)
    # Which passes shaped the archive (`deploykit inspect` shows it; readers ignore unknown keys).
    metadata["passes"] = ran
    test_vectors = _torch_test_vectors(captured.module, inputs, len(graph.outputs)) if embed_test_vectors else None
    write_atomically(path, serialize(graph, metadata, test_vectors))
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
    if len(outputs) != num_outputs or not all(isinstance(t, torch.Tensor) for t in outputs):
        raise ExportError(f"embed_test_vectors: the model returned {len(outputs)} value(s), the exported graph has "
                          f"{num_outputs} tensor output(s)")
    arrays_in = [t.detach().cpu().contiguous().numpy() for t in inputs]
    arrays_out = [t.detach().cpu().contiguous().numpy() for t in outputs]
    return TestVectors(vectors=[(arrays_in, arrays_out)])
