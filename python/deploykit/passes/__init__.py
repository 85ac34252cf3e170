"""Graph passes: one per file, run by base.PassManager (contract in base.py).

``optimize(graph)`` runs DEFAULT_PIPELINE, which deploykit.export uses unless
``optimize=False``; ``passes=[...]`` picks passes by name (PASSES lists them).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

from ..errors import ExportError
from ..ir.graph import Graph
from .base import Pass, PassError, PassManager, PassResult
from .constant_fold import ConstantFolding
from .cse import CommonSubexpressionElimination
from .dce import DeadCodeElimination
from .fold_batchnorm import FoldBatchNorm
from .fuse_activation import FuseActivation
from .fuse_residual import FuseResidual
from .inline import Inline
from .memory_plan import MemoryPlanning, plan_memory
from .remove_identity import RemoveIdentity

PASSES: Dict[str, Callable[[], Pass]] = {
    cls.name: cls for cls in (Inline, RemoveIdentity, ConstantFolding, CommonSubexpressionElimination,
                              DeadCodeElimination, FoldBatchNorm, FuseResidual, FuseActivation, MemoryPlanning)
}

# BatchNorm folding first (it needs the bare conv), then the residual add (it needs a conv
# without a clamp), then the activations (which may land on the conv that now carries the add).
DEFAULT_PIPELINE = ("inline", "remove_identity", "constant_fold", "cse", "dce", "fold_batchnorm",
                    "fuse_residual", "fuse_activation", "dce", "memory_plan")


def make_passes(names: Sequence[str]):
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise ExportError(f"unknown pass{'es' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"available: {', '.join(PASSES)}")
    return [PASSES[n]() for n in names]


def optimize(graph: Graph, passes: Optional[Sequence[str]] = None, *, verify: bool = False,
             print_after_all: bool = False, printer=None) -> Graph:
    """Runs the named passes (default: DEFAULT_PIPELINE) on graph and returns the result."""
    manager = PassManager(make_passes(DEFAULT_PIPELINE if passes is None else list(passes)), verify=verify,
                          print_after_all=print_after_all, printer=printer)
    return manager.run(graph)


__all__ = ["Pass", "PassResult", "PassManager", "PassError", "PASSES", "DEFAULT_PIPELINE", "make_passes",
           "optimize", "plan_memory"]
