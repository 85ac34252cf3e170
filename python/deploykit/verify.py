"""deploykit verify: how closely the C++ runtime reproduces PyTorch on an archive.

Two references: the test vectors stored in the archive (export --embed-test-vectors), or
a PyTorch model run on the same inputs. With a model, per_op=True also compares every
node's output with PyTorch's matching intermediate (same TorchScript value name, which
the exporter uses for IR values) to find the first op that drifts. Values the optimizer
fused away have no runtime counterpart and are skipped; nodes it created (fused ops)
compare against the PyTorch value whose name they carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from .archive.test_vectors import DEFAULT_ATOL, DEFAULT_RTOL, compare
from .errors import InputError


@dataclass
class Check:
    what: str          # "output 0 'logits'" or "node 12 conv2d 'layer1.0.conv1' -> %input.5"
    max_abs: float
    max_rel: float
    tolerance: float
    passed: bool


@dataclass
class VerifyReport:
    reference: str                       # "stored test vectors" or "PyTorch model"
    outputs: List[Check] = field(default_factory=list)
    per_op: List[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.outputs) and all(c.passed for c in self.outputs)

    @property
    def first_drift(self) -> Optional[Check]:
        return next((c for c in self.per_op if not c.passed), None)

    def format(self) -> str:
        lines = [f"reference: {self.reference}"]
        for c in self.outputs:
            lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.what}: max abs {c.max_abs:.3g}, "
                         f"max rel {c.max_rel:.3g}, tolerance {c.tolerance:.3g}")
        if self.per_op:
            lines.append(f"per-op ({len(self.per_op)} node outputs matched to PyTorch values):")
            for c in self.per_op:
                lines.append(f"  {'ok  ' if c.passed else 'DRIFT'} {c.what}: max abs {c.max_abs:.3g}, "
                             f"max rel {c.max_rel:.3g}")
            drift = self.first_drift
            lines.append(f"first op that drifts: {drift.what}" if drift else "no op drifts beyond the tolerance")
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines) + "\n"


def _torch_intermediates(module, inputs) -> dict:
    """Every tensor value of the module's inlined TorchScript graph, by debug name."""
    import torch

    graph = module.inlined_graph
    values = [o for n in graph.nodes() for o in n.outputs() if o.type().kind() == "TensorType"]
    graph.eraseOutput(0)
    pack = graph.create("prim::TupleConstruct", values, 1)
    pack.output().setType(torch._C.TupleType([v.type() for v in values]))
    graph.appendNode(pack)
    graph.registerOutput(pack.output())
    fn = torch._C._create_function_from_graph("deploykit_verify_intermediates", graph)
    with torch.no_grad():
        results = fn(module._c, *inputs)
    return {v.debugName(): r.detach().cpu().numpy() for v, r in zip(values, results)}


def verify(archive_path, model=None, inputs: Optional[Sequence] = None, per_op: bool = False,
           num_threads: Optional[int] = None, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> VerifyReport:
    """Parity report for archive_path, against its stored test vectors or against `model`.

    model: an nn.Module, ScriptModule or TorchScript path (as for export); inputs: its
    example inputs (default: the archive's first test vector's inputs).
    """
    from .archive.reader import read
    from .runtime import load

    archive = read(archive_path)
    module = load(archive_path, num_threads=num_threads)
    names = [n for n, _, _ in module.outputs]
    if model is None:
        if per_op:
            raise InputError("--per-op needs the PyTorch model (--model) to compute its intermediates")
        if archive.test_vectors is None:
            raise InputError(f"'{archive_path}' has no test vectors: pass the PyTorch model, or re-export with "
                             "--embed-test-vectors")
        tv = archive.test_vectors
        report = VerifyReport("stored test vectors")
        for v, (ins, expected) in enumerate(tv.vectors):
            actual = module(*ins)
            actual = list(actual) if isinstance(actual, tuple) else [actual]
            for k, (a, e) in enumerate(zip(actual, expected)):
                r = compare(a, e, tv.rtol, tv.atol)
                report.outputs.append(Check(f"vector {v} output {k} '{names[k]}'", r["max_abs"], r["max_rel"],
                                            r["tolerance"], r["passed"]))
        return report

    import torch

    from .frontend.torchscript import capture

    if inputs is None:
        if archive.test_vectors is None:
            raise InputError("give the model's example inputs, or verify an archive with embedded test vectors")
        inputs = archive.test_vectors.vectors[0][0]
    tensors = tuple(torch.as_tensor(np.asarray(x)) for x in inputs)
    captured = capture(model, tensors, "trace")
    captured.module.eval()
    with torch.no_grad():
        expected = captured.module(*tensors)
    expected = [t.numpy() for t in (expected if isinstance(expected, (tuple, list)) else [expected])]
    arrays = [t.numpy() for t in tensors]
    report = VerifyReport("PyTorch model")
    actual = module(*arrays)
    actual = list(actual) if isinstance(actual, tuple) else [actual]
    for k, (a, e) in enumerate(zip(actual, expected)):
        r = compare(a, e, rtol, atol)
        report.outputs.append(Check(f"output {k} '{names[k]}'", r["max_abs"], r["max_rel"], r["tolerance"],
                                    r["passed"]))
    if per_op:
        reference = _torch_intermediates(captured.module, tensors)
        for i, (node, op, value, array) in enumerate(module.forward_debug(*arrays)):
            want = reference.get(value)
            if want is None or want.shape != array.shape:
                continue  # a value the optimizer created: PyTorch has no counterpart
            r = compare(array, want, rtol, atol)
            report.per_op.append(Check(f"node {i} {op} '{node}' -> %{value}", r["max_abs"], r["max_rel"],
                                       r["tolerance"], r["passed"]))
    return report
