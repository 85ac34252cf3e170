"""deploykit.export(): PyTorch model -> .dkr archive."""

from __future__ import annotations

import os
import tempfile
from typing import Sequence, Union

from .errors import ExportError
from .ir.graph import Graph


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
           path: Union[str, os.PathLike], *, method: str = "trace") -> Graph:
    """Exports model (nn.Module, ScriptModule or path to a TorchScript .pt) to the archive at path.

    Returns the IR graph that was written.
    """
    try:
        import torch
    except ImportError:
        raise ExportError("exporting needs PyTorch: pip install 'deploykit[torch]'") from None
    from .archive.writer import default_metadata, serialize
    from .frontend.torchscript import to_graph

    inputs = _example_tuple(example_inputs)
    graph, captured = to_graph(model, inputs, method)
    metadata = default_metadata(source=captured.source, torch_version=torch.__version__)
    write_atomically(path, serialize(graph, metadata))
    return graph
