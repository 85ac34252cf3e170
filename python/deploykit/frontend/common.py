"""What the PyTorch frontends share: the TorchScript lowering (torchscript.py), its control-flow
part (script.py) and the torch.export lowering (torch_export.py).

Everything here works on plain Python values (ints, lists, tensors) already read from the
frontend's own graph, so each frontend keeps its own argument handling and node emission.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, List, Tuple

import torch

from ..errors import ExportError

# Frames under torch's own sources are never the user's line.
TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep


class Unsupported(Exception):
    """Raised by a lowering for a configuration it cannot export (reported with the op kind)."""


class Poison:
    """Output of a node that could not be lowered; users of it are skipped silently."""


POISON = Poison()


def contains(obj, kind) -> bool:
    """Whether obj, or anything in the lists, tuples and dicts nested in it, is a `kind`."""
    if isinstance(obj, kind):
        return True
    if isinstance(obj, (list, tuple)):
        return any(contains(o, kind) for o in obj)
    if isinstance(obj, dict):
        return any(contains(o, kind) for o in obj.values())
    return False


def check_float32(named_tensors: Iterable[Tuple[str, Any]], what: str) -> None:
    """Refuses floating-point parameters/buffers that are not float32 (the archive stores f32 weights)."""
    bad = [f"{name} ({str(t.dtype).replace('torch.', '')})" for name, t in named_tensors
           if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float32]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ExportError(f"{what} has non-float32 parameters: {shown}. deploykit stores float32 weights "
                          "only; convert the model with model.float() before exporting")


def scalar_dtype(obj) -> str:
    """IR dtype of a Python number (bool before int: bool is an int subclass)."""
    if isinstance(obj, bool):
        return "bool"
    if isinstance(obj, int):
        return "i64"
    if isinstance(obj, float):
        return "f32"
    raise Unsupported(f"a {type(obj).__name__} where a number is needed")


def normalize_axis(axis: int, rank: int, what: str) -> int:
    if not -max(rank, 1) <= axis < max(rank, 1):
        raise ExportError(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def pair(values, what: str) -> List[int]:
    """A 2-d kernel/stride/padding argument: an int or a 1- or 2-element list."""
    values = [values] if isinstance(values, int) else list(values)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(isinstance(v, int) for v in values):
        raise Unsupported(f"{what}={values} (2-d only)")
    return values


def conv_pads(padding, dilation: List[int], kernel: Tuple[int, ...]) -> List[int]:
    """conv2d's `pads` [top, left, bottom, right] from PyTorch's padding (ints or 'valid'/'same')."""
    if isinstance(padding, str):
        if padding == "valid":
            return [0, 0, 0, 0]
        if padding == "same":
            # PyTorch puts the odd pixel of 'same' padding at the end.
            total = [dilation[i] * (kernel[i] - 1) for i in range(2)]
            return [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
        raise Unsupported(f"padding='{padding}'")
    ph, pw = pair(padding, "padding")
    return [ph, pw, ph, pw]


def pool_window(kernel, stride, padding) -> Tuple[List[int], List[int], List[int]]:
    """(kernel, stride, pads) of max_pool2d / avg_pool2d; an empty stride means stride = kernel."""
    kernel = pair(kernel, "kernel_size")
    stride = kernel if not stride else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    return kernel, stride, [ph, pw, ph, pw]


def adaptive_output_size(size, shape: Tuple[int, ...]) -> List[int]:
    """adaptive_avg_pool2d's output_size; None keeps the input's extent (of a rank-4 input)."""
    size = [size] * 2 if isinstance(size, int) else list(size)
    if len(size) == 1:
        size = size * 2
    if len(shape) == 4:
        size = [shape[2 + i] if s is None else s for i, s in enumerate(size)]
    return pair(size, "output_size")


def clamp_bounds(low, high) -> Tuple[float, float]:
    """hardtanh's (min_val, max_val) from clamp-style bounds (None: unbounded on that side)."""
    for bound in (low, high):
        if bound is not None and not isinstance(bound, (int, float)):
            raise Unsupported("tensor bounds")
    return (-float("inf") if low is None else float(low), float("inf") if high is None else float(high))


def static_matrix(obj, what: str) -> torch.Tensor:
    if not isinstance(obj, torch.Tensor) or obj.dim() != 2:
        raise Unsupported(f"{what} must be a constant matrix")
    return obj


def addmm_linear(bias, mat2, beta, alpha) -> Tuple[torch.Tensor, torch.Tensor]:
    """addmm(bias, x, mat2) as linear(x, weight, bias): (weight, bias vector), both constants."""
    if beta != 1 or alpha != 1:
        raise Unsupported(f"beta={beta}, alpha={alpha}")
    weight = static_matrix(mat2, "mat2").t().contiguous()  # x @ W == linear(x, W^T)
    if not isinstance(bias, torch.Tensor) or bias.numel() != weight.shape[0]:
        raise Unsupported("bias must be a constant vector")
    return weight, bias.reshape(-1)

