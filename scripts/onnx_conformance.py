#!/usr/bin/env python3
"""ONNX conformance: the onnx package's own backend tests through deploykit's importer and runtime.

    python scripts/onnx_conformance.py [--ops Conv,Relu] [--markdown docs/CONFORMANCE.md] [-v]

Cases: every node test that onnx.backend.test.case.node generates (model, inputs, expected
outputs; the same data `onnx.backend.test.cmd_tools generate-data` writes to
onnx/backend/test/data/node), plus the pytorch-converted and pytorch-operator models the
onnx wheel ships under onnx/backend/test/data. Each case is imported (import_onnx), optimized
with the default pipeline as `deploykit export` does, serialized, loaded by the C++ runtime
(deploykit.load_bytes) and run on every data set; outputs are compared as onnx's backend
tests compare them (numpy assert_allclose with the case's rtol/atol, default 1e-3 / 1e-7,
and equal dtypes). Outcomes:
  pass           every output of every data set matches
  not supported  the importer refused the model (UnsupportedOpsError: an op, attribute
                 combination or dtype the runtime does not compute), with its reason
  fail           anything else: a numerical mismatch, a load or run error, a crash in import
"""

from __future__ import annotations

import argparse
import collections
import glob
import importlib
import os
import pkgutil
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

PASS, FAIL, NOT_SUPPORTED = "pass", "fail", "not supported"

# Supported ONNX op -> the onnx.backend.test.case.node module that generates its tests.
NODE_MODULES = {
    "Add": "add", "And": "and_", "AveragePool": "averagepool", "BatchNormalization": "batch_normalization",
    "Cast": "cast", "Clip": "clip", "Concat": "concat", "Conv": "conv", "Div": "div", "Equal": "equal",
    "Flatten": "flatten", "Gemm": "gemm", "GlobalAveragePool": "globalaveragepool", "Greater": "greater",
    "GreaterOrEqual": "greater_or_equal", "If": "if_", "Less": "less", "LessOrEqual": "less_or_equal",
    "Loop": "loop", "MatMul": "matmul", "MaxPool": "maxpool", "Mul": "mul", "Not": "not_", "Or": "or_",
    "ReduceMean": "reducemean", "ReduceSum": "reducesum", "Relu": "relu", "Reshape": "reshape",
    "Sigmoid": "sigmoid", "Softmax": "softmax", "Squeeze": "squeeze", "Sub": "sub", "Unsqueeze": "unsqueeze",
    "Xor": "xor", "Dropout": "dropout", "Identity": "identity",
}


@dataclass
class Case:
    name: str
    kind: str  # node | pytorch-converted | pytorch-operator
    op: str  # the ONNX op the case tests ("" for model cases)
    model: object
    data_sets: List[Tuple[List[np.ndarray], List[np.ndarray]]]
    rtol: float = 1e-3
    atol: float = 1e-7


@dataclass
class Result:
    case: Case
    outcome: str
    reason: str = ""
    nodes: int = 0  # runtime nodes in the archive (0: everything was computed at import)
    seconds: float = 0.0
    bound: List[str] = field(default_factory=list)  # graph inputs bound to the test's values


def _quiet_import(name: str):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def node_cases(ops: Optional[Sequence[str]] = None) -> List[Case]:
    """The generated node tests: of the given ONNX ops' modules, or of every module."""
    import onnx.backend.test.case.node as node_pkg

    if ops is None:
        prefix = node_pkg.__name__ + "."
        modules = sorted(info.name[len(prefix):] for info in pkgutil.walk_packages(node_pkg.__path__, prefix)
                         if not info.ispkg)
    else:
        unknown = [op for op in ops if op not in NODE_MODULES]
        if unknown:
            raise SystemExit(f"no node test module known for {', '.join(unknown)}")
        modules = sorted({NODE_MODULES[op] for op in ops})
    cases: List[Case] = []
    collected = node_pkg._NodeTestCases  # expect() appends here as each module is imported
    for module in modules:
        start = len(collected)
        _quiet_import(f"{node_pkg.__name__}.{module}")
        new = collected[start:]
        single = [c.model.graph.node[0].op_type for c in new if len(c.model.graph.node) == 1]
        principal = collections.Counter(single).most_common(1)[0][0] if single else module
        for c in new:
            cases.append(Case(c.name, "node", principal, c.model,
                              [(list(i), list(o)) for i, o in c.data_sets], c.rtol, c.atol))
    if ops is not None:
        cases = [c for c in cases if c.op in ops]
    return cases


def data_dir_cases(kind: str) -> List[Case]:
    """Models shipped as files: <onnx>/backend/test/data/<kind>/<test>/{model.onnx,test_data_set_*}."""
    import onnx
    from onnx import numpy_helper

    root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", kind)
    cases = []
    for directory in sorted(glob.glob(os.path.join(root, "*"))):
        model_path = os.path.join(directory, "model.onnx")
        if not os.path.exists(model_path):
            continue
        model = onnx.load(model_path)
        data_sets = []
        for data_dir in sorted(glob.glob(os.path.join(directory, "test_data_set_*"))):
            def read(prefix):
                arrays = []
                for path in sorted(glob.glob(os.path.join(data_dir, f"{prefix}_*.pb")),
                                   key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0])):
                    tensor = onnx.TensorProto()
                    with open(path, "rb") as f:
                        tensor.ParseFromString(f.read())
                    arrays.append(numpy_helper.to_array(tensor))
                return arrays
            data_sets.append((read("input"), read("output")))
        cases.append(Case(os.path.basename(directory), kind, "", model, data_sets))
    return cases


def run_case(case: Case) -> Result:
    from deploykit import load_bytes
    from deploykit.archive.writer import serialize
    from deploykit.errors import UnsupportedOpsError
    from deploykit.frontend.onnx_import import import_onnx
    from deploykit.passes import optimize

    start = time.perf_counter()
    input_names = [vi.name for vi in case.model.graph.input
                   if vi.name not in {t.name for t in case.model.graph.initializer}]
    bound: Dict[str, np.ndarray] = {}
    while True:
        try:
            graph = import_onnx(case.model, constant_inputs=bound)
            break
        except UnsupportedOpsError as e:
            # Inputs the importer must know (Reshape's shape, Clip's bounds, a Gemm weight...) are
            # bound to the test's values when every data set gives the same ones, and the import retried
            # (each retry binds at least one more input, so this ends).
            wanted = [n for n in getattr(e, "inputs_needed_constant", []) if n not in bound]
            if wanted and _same_in_all(case, input_names, wanted):
                bound.update({n: case.data_sets[0][0][input_names.index(n)] for n in wanted})
                continue
            reasons = [line.strip() for line in str(e).splitlines()[1:]]
            return Result(case, NOT_SUPPORTED, "\n".join(reasons), seconds=time.perf_counter() - start)
        except Exception as e:  # an import that is neither a result nor a clear refusal is a failure
            return Result(case, FAIL, f"import raised {type(e).__name__}: {_first_line(e)}",
                          seconds=time.perf_counter() - start)
    fed = [i for i, n in enumerate(input_names) if n not in bound]
    try:
        graph = optimize(graph)
        module = load_bytes(serialize(graph), num_threads=1)
    except Exception as e:
        return Result(case, FAIL, f"optimize/load raised {type(e).__name__}: {_first_line(e)}",
                      nodes=len(graph.nodes), seconds=time.perf_counter() - start)
    for index, (inputs, expected) in enumerate(case.data_sets):
        try:
            actual = module(*[inputs[i] for i in fed])
        except Exception as e:
            return Result(case, FAIL, f"data set {index}: run raised {type(e).__name__}: {_first_line(e)}",
                          nodes=len(graph.nodes), seconds=time.perf_counter() - start)
        actual = list(actual) if isinstance(actual, tuple) else [actual]
        problem = compare(actual, expected, case.rtol, case.atol)
        if problem:
            return Result(case, FAIL, f"data set {index}: {problem}", nodes=len(graph.nodes),
                          seconds=time.perf_counter() - start)
    return Result(case, PASS, nodes=len(graph.nodes), seconds=time.perf_counter() - start, bound=sorted(bound))


def _same_in_all(case: Case, input_names: List[str], names: Sequence[str]) -> bool:
    if not all(n in input_names for n in names):
        return False
    first = case.data_sets[0][0]
    return all(np.array_equal(inputs[input_names.index(n)], first[input_names.index(n)])
               for inputs, _ in case.data_sets[1:] for n in names)


def compare(actual: List[np.ndarray], expected: List[np.ndarray], rtol: float, atol: float) -> str:
    """onnx's backend test comparison; '' when equal."""
    if len(actual) != len(expected):
        return f"{len(actual)} outputs, expected {len(expected)}"
    for k, (a, e) in enumerate(zip(actual, expected)):
        a, e = np.asarray(a), np.asarray(e)
        if a.dtype != e.dtype:
            return f"output {k} is {a.dtype}, expected {e.dtype}"
        if a.shape != e.shape:
            return f"output {k} has shape {list(a.shape)}, expected {list(e.shape)}"
        if e.dtype == np.bool_ or np.issubdtype(e.dtype, np.integer):
            if not np.array_equal(a, e):
                return f"output {k}: {int(np.sum(a != e))} of {e.size} elements differ"
            continue
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
            return (f"output {k}: {int((~close).sum())} of {e.size} elements differ beyond rtol={rtol} atol={atol} "
                    f"(max |diff| {np.nanmax(diff):.3g})")
    return ""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def run_all(cases: Sequence[Case], verbose: bool = False) -> List[Result]:
    results = []
    for case in cases:
        try:
            result = run_case(case)
        except Exception as e:  # a bug in the harness itself still counts, visibly, as a failure
            result = Result(case, FAIL, f"harness error {type(e).__name__}: {_first_line(e)}")
            if verbose:
                traceback.print_exc()
        results.append(result)
        if verbose or result.outcome == FAIL:
            print(f"{result.outcome:>13}  {case.kind:<17} {case.name}  {result.reason.replace(chr(10), ' / ')}",
                  file=sys.stderr)
    return results


# -- report ---------------------------------------------------------------------------------------


def _counts(results: Sequence[Result]) -> Dict[str, int]:
    counter = collections.Counter(r.outcome for r in results)
    return {k: counter.get(k, 0) for k in (PASS, FAIL, NOT_SUPPORTED)}


def summary(results: Sequence[Result]) -> str:
    lines = []
    for kind in ("node", "pytorch-converted", "pytorch-operator"):
        subset = [r for r in results if r.case.kind == kind]
        if subset:
            c = _counts(subset)
            lines.append(f"{kind:<18} {len(subset):>5} cases: {c[PASS]} pass, {c[FAIL]} fail, "
                         f"{c[NOT_SUPPORTED]} not supported")
    c = _counts(results)
    lines.append(f"{'total':<18} {len(results):>5} cases: {c[PASS]} pass, {c[FAIL]} fail, {c[NOT_SUPPORTED]} not supported")
    return "\n".join(lines)


def markdown(results: Sequence[Result], supported: Sequence[str], command: str, seconds: float) -> str:
    import onnx

    out = ["# ONNX conformance", "",
           "The onnx package's own backend tests, imported with `deploykit.frontend.onnx_import`, optimized with "
           "the default pass pipeline, loaded by the C++ runtime and compared with the expected outputs as onnx's "
           "backend runner compares them (`rtol=1e-3`, `atol=1e-7`, equal dtypes and shapes; integer and bool "
           "outputs exactly). Generated by:", "", "```sh", command, "```", "",
           f"onnx {onnx.__version__} (default opset up to {onnx.defs.onnx_opset_version()}); "
           f"{len(results)} cases in {seconds:.0f} s.", "",
           "- **pass**: every output of every data set matches.",
           "- **not supported**: the importer refuses the model with `UnsupportedOpsError`, naming each node and "
           "the reason (an op the runtime lacks, an attribute combination it does not implement, a dtype other "
           "than float32 / int64 / bool, a dynamic or empty shape).",
           "- **fail**: anything else (a wrong answer, a load or run error, an unexpected import error).", "",
           "Node tests are the cases `onnx.backend.test.case.node` generates (what `onnx.backend.test.cmd_tools "
           "generate-data` writes to `onnx/backend/test/data/node`; the onnx wheel does not ship that directory, so "
           "the script generates them in memory); `pytorch-converted` and `pytorch-operator` are the model "
           "directories the wheel ships. A node test whose whole graph is computable at import (e.g. `Shape` of a "
           "static input) passes without a runtime node; the table counts those separately.", "",
           "## Counts", "", "| suite | cases | pass | fail | not supported |", "|---|---|---|---|---|"]
    for kind in ("node", "pytorch-converted", "pytorch-operator"):
        subset = [r for r in results if r.case.kind == kind]
        c = _counts(subset)
        out.append(f"| {kind} | {len(subset)} | {c[PASS]} | {c[FAIL]} | {c[NOT_SUPPORTED]} |")
    c = _counts(results)
    out.append(f"| **total** | {len(results)} | {c[PASS]} | {c[FAIL]} | {c[NOT_SUPPORTED]} |")
    folded = sum(1 for r in results if r.outcome == PASS and r.nodes == 0)
    bound = sum(1 for r in results if r.outcome == PASS and r.bound)
    out += ["", f"{folded} of the passing cases need no runtime node (the importer computes them: Shape, Size, "
            "Constant, Identity, inference-mode Dropout, OptionalHasElement of nothing, a ReduceSum no-op).",
            "",
            f"{bound} passing cases feed a value the runtime takes as a constant (Reshape's `shape`, Clip's `min`/"
            "`max`, ReduceMean's `axes`, Gemm's `B`) through a graph input. The importer asks for such inputs "
            "(`UnsupportedOpsError.inputs_needed_constant`) and the harness binds them to the test's values "
            "(`import_onnx(model, constant_inputs=...)`, the same for every data set); data inputs are never bound.",
            "",
            "## Why mapped ops are refused", "",
            "Every refusal below is a deliberate check in the importer, made so that the runtime never gives a "
            "different answer than ONNX specifies:", "",
            "- dtypes other than float32, int64 and bool: the runtime has no int8/int16/uint*/int32/float16/double/"
            "string kernels;",
            "- Conv, MaxPool and AveragePool on 1-D or 3-D data: the runtime convolves and pools 2-D NCHW only;",
            "- pooling pads larger than half the kernel: the runtime follows PyTorch, which forbids them;",
            "- AveragePool with dilations, or with `ceil_mode` and `count_include_pad` together (ONNX divides a "
            "window that runs past the padding by the full kernel area, PyTorch and the runtime by the clipped "
            "window);",
            "- MaxPool's `Indices` output, Dropout's mask or training mode, BatchNormalization in training mode;",
            "- MatMul of two run-time tensors and Gemm with `transA=1`: the runtime has matrix products only as "
            "`linear` with a constant weight;",
            "- Clip with `min > max` (ONNX returns `max`; `hardtanh` requires `min <= max`);",
            "- empty tensors (a 0 dim) and non-tensor inputs (sequences, optionals);",
            "- `expanded` variants whose function bodies use ops the runtime lacks (ReduceMax, Exp, CastLike...);",
            "- an If whose branches give outputs of different shapes or dtypes, a Loop with scan outputs "
            "(per-iteration results stacked into a tensor) or whose carried values change shape: the runtime's `if` "
            "and `loop` have static shapes and carried "
            "values only. (An If whose condition is known at import is inlined.)", "",
            "## Node tests of the ops the importer maps", "",
            "`expanded` cases are the same tests with the op replaced by its ONNX function body (other ops).", "",
            "| ONNX op | cases | pass | fail | not supported | not-supported reasons |", "|---|---|---|---|---|---|"]
    for op in supported:
        subset = [r for r in results if r.case.kind == "node" and r.case.op == op]
        if not subset:
            continue
        c = _counts(subset)
        reasons = collections.Counter(_short_reason(r.reason) for r in subset if r.outcome == NOT_SUPPORTED)
        text = "; ".join(f"{reason} ({n})" for reason, n in reasons.most_common(4))
        if len(reasons) > 4:
            text += f"; {len(reasons) - 4} more"
        out.append(f"| {op} | {len(subset)} | {c[PASS]} | {c[FAIL]} | {c[NOT_SUPPORTED]} | {_md(text)} |")
    failures = [r for r in results if r.outcome == FAIL]
    out += ["", "## Failures", ""]
    if not failures:
        out.append("None.")
    else:
        out += ["| suite | case | op | what happened |", "|---|---|---|---|"]
        for r in failures:
            out.append(f"| {r.case.kind} | {r.case.name} | {r.case.op} | {_md(r.reason)} |")
    out += ["", "## Model suites", "", "| suite | case | outcome | reason |", "|---|---|---|---|"]
    for r in results:
        if r.case.kind != "node":
            out.append(f"| {r.case.kind} | {r.case.name} | {r.outcome} | {_md(_short_reason(r.reason))} |")
    return "\n".join(out) + "\n"


def _short_reason(reason: str) -> str:
    """The first refusal, without the node name (so that equal reasons group)."""
    first = reason.split("\n")[0]
    if "): " in first:
        op, _, rest = first.partition(" (node ")
        first = op + ": " + rest.split("): ", 1)[1]
    return first[:160]


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default=None, help="only the node tests of these ONNX ops (comma-separated); "
                                                    "default: every node test and both model suites")
    parser.add_argument("--markdown", metavar="PATH", help="write the report (docs/CONFORMANCE.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    from deploykit.frontend.onnx_import import SUPPORTED_OPS

    start = time.perf_counter()
    if args.ops:
        cases = node_cases([op.strip() for op in args.ops.split(",") if op.strip()])
    else:
        cases = node_cases() + data_dir_cases("pytorch-converted") + data_dir_cases("pytorch-operator")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        results = run_all(cases, args.verbose)
    seconds = time.perf_counter() - start
    print(summary(results))
    if args.markdown:
        command = "python scripts/onnx_conformance.py" + (f" --ops {args.ops}" if args.ops else "") + \
            f" --markdown {args.markdown}"
        with open(args.markdown, "w") as f:
            f.write(markdown(results, SUPPORTED_OPS, command, seconds))
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
