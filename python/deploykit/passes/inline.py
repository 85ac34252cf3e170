"""inline: make the whole forward one flat graph of docs/ops.md ops.

Module calls are already inlined by the TorchScript frontend: it lowers
``module.inlined_graph``, i.e. the graph after torch's own ``_jit_pass_inline``, in which
every ``prim::CallMethod`` / ``prim::CallFunction`` of a submodule has been replaced by the
callee's body (frontend/torchscript.py, _Lowering.run). The IR has no call op, so at the
IR level this pass has nothing to expand: it checks that claim, establishes the ``flat``
property the other passes rely on, and fails loudly (naming the node) if a frontend ever
hands it a node that is not a plain op, instead of letting a later pass misread it.
``if`` / ``loop`` subgraphs are not calls: they are ops of docs/ops.md and stay.
"""

from __future__ import annotations

from ..ir.graph import Graph
from .base import Pass, PassResult, check_property


class Inline(Pass):
    name = "inline"
    ensures = frozenset({"flat"})
    in_place = True
    description = "module calls inlined (the frontend does it via torch's _jit_pass_inline); checks the IR is flat"

    def run(self, graph: Graph) -> PassResult:
        why = check_property(graph, "flat")
        if why is not None:
            raise ValueError(f"cannot inline: {why}; the IR has no call op to expand")
        return PassResult(graph, changed=False)
