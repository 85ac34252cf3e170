"""Scripted models with control flow (issue 5, "Scripting"): export(method="script"), ScriptModules
and scripted submodules inside traced models become `if` / `loop` nodes with subgraphs.

Every model is checked against PyTorch on inputs that take every branch and run each loop 0, 1
and many times, through deploykit.load (Python) and deployrt-run (C++ only). The IR side
(nested printing, verification, archive round trip, passes on subgraphs) is checked too.
"""

from __future__ import annotations

import subprocess
from typing import List, Tuple

import numpy as np
import pytest
import torch

import deploykit
from deploykit.archive.reader import read_bytes
from deploykit.archive.writer import serialize
from deploykit.errors import ExportError, UnsupportedOpsError
from deploykit.ir.graph import Graph
from deploykit.ir.printer import format_graph
from deploykit.ir.verify import verify_graph
from deploykit.passes import optimize
from deploykit.views import format_code, format_dot, format_stats
from helpers import assert_close_to_torch

# torch 2.x marks torch.jit.script deprecated; the reference models here are scripted on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# -- the models: one per construct -------------------------------------------------------------------


class IfOnValue(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            y = torch.relu(x) * 2.0
        else:
            y = torch.sigmoid(x) - 1.0
        return y


class IfElifElse(torch.nn.Module):
    def forward(self, x):
        m = x.mean()
        if m > 1.0:
            y = x * 3.0
        elif m < -1.0:
            y = torch.relu(x + 2.0)
        else:
            y = torch.sigmoid(x)
        return y + 1.0


class IfOnShape(torch.nn.Module):
    def forward(self, x):
        if x.shape[1] > 4:
            return torch.relu(x) * 2.0
        return torch.sigmoid(x)


class ForRange(torch.nn.Module):
    def forward(self, x, n: int):
        y = x
        for i in range(n):
            y = y * 0.5 + i
        return y


class WhileLoop(torch.nn.Module):
    def forward(self, x):
        steps = 0
        y = x
        while y.sum() > 1.0 and steps < 50:
            y = y * 0.5
            steps += 1
        return y, torch.zeros(1) + steps


class EarlyReturn(torch.nn.Module):
    def forward(self, x):
        if x.sum() < 0:
            return x * 0.0 - 1.0
        y = torch.relu(x)
        if y.sum() > 10.0:
            return y / 10.0
        return y + 1.0


class Recurrent(torch.nn.Module):
    """Loop-carried tensors (h, acc) and a weight used inside the loop body."""

    def __init__(self):
        super().__init__()
        self.cell = torch.nn.Linear(4, 4)

    def forward(self, x, n: int):
        h = torch.zeros(1, 4)
        acc = x
        for _ in range(n):
            h = torch.sigmoid(self.cell(h) + x)
            acc = acc + h
        return acc, h


class TensorLists(torch.nn.Module):
    def forward(self, x):
        outs: List[torch.Tensor] = []
        for k in range(3):
            outs.append(x * float(k + 1))
        if x.sum() > 0:
            outs.append(torch.relu(x))
        else:
            outs.append(torch.sigmoid(x))
        a, b = outs[0], outs[-1]
        return torch.cat(outs, 1), torch.stack([a, b], 0)


class ListMethods(torch.nn.Module):
    """insert / pop / extend / item assignment / reverse, and an append on either branch."""

    def forward(self, x, n: int):
        a: List[torch.Tensor] = [x, x * 2.0]
        a.insert(0, x + 1.0)
        b = a.pop()
        a.extend([b, b * 3.0])
        a[1] = torch.relu(x - 0.5)
        a.reverse()
        if x.sum() > 0:
            a.append(x * 5.0)
        else:
            a.append(x)
        y = x
        for _ in range(n):
            y = y + a[0]
        return torch.cat(a, 0), y, len(a)


class ScalarInputs(torch.nn.Module):
    def forward(self, x, n: int, scale: float, flag: bool):
        y = x * scale
        if flag:
            y = torch.relu(y)
        if n > 2 and not flag:
            y = y - n
        return y + n


class Gate(torch.nn.Module):
    def forward(self, x):
        if x.mean() > 0:
            return torch.relu(x)
        return x * -0.5


class Mixed(torch.nn.Module):
    """A scripted submodule inside a traced model."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.gate = torch.jit.script(Gate())
        self.head = torch.nn.Linear(3 * 4 * 4, 5)

    def forward(self, x):
        y = self.gate(self.conv(x))
        return self.head(torch.flatten(y, 1))


def _seeded(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(5)
    for p in module.parameters():
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * 0.5)
    return module.eval()


def _t(*shape, scale=1.0, shift=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * scale + shift


# (name, model, method, example inputs, inputs that take every branch / trip count)
CASES = [
    ("if_value", IfOnValue, "script", (_t(2, 5, shift=1.0),),
     [(_t(2, 5, shift=1.0),), (_t(2, 5, shift=-1.0),)]),
    ("if_elif_else", IfElifElse, "script", (_t(2, 3),),
     [(_t(2, 3, shift=3.0),), (_t(2, 3, shift=-3.0),), (_t(2, 3, scale=0.1),)]),
    ("for_range", ForRange, "script", (_t(3, 4), 3),
     [(_t(3, 4), 0), (_t(3, 4), 1), (_t(3, 4), 7)]),
    ("while", WhileLoop, "script", (_t(2, 2, shift=4.0),),
     [(_t(2, 2, shift=-1.0),), (_t(2, 2, scale=0.01, shift=0.4),), (_t(2, 2, shift=20.0),)]),
    ("early_return", EarlyReturn, "script", (_t(2, 4, shift=1.0),),
     [(_t(2, 4, shift=-2.0),), (_t(2, 4, shift=3.0),), (_t(2, 4, scale=0.1, shift=0.2),)]),
    ("loop_carried", Recurrent, "script", (_t(1, 4), 2),
     [(_t(1, 4), 0), (_t(1, 4), 1), (_t(1, 4), 9)]),
    ("tensor_lists", TensorLists, "script", (_t(2, 3, shift=1.0),),
     [(_t(2, 3, shift=2.0),), (_t(2, 3, shift=-2.0),)]),
    ("list_methods", ListMethods, "script", (_t(2, 2), 2),
     [(_t(2, 2, shift=3.0), 0), (_t(2, 2, shift=-3.0), 1), (_t(2, 2), 5)]),
    ("scalar_inputs", ScalarInputs, "script", (_t(2, 3), 3, 0.5, True),
     [(_t(2, 3), 3, 0.5, True), (_t(2, 3), 3, -2.0, False), (_t(2, 3), 1, 1.5, False), (_t(2, 3), 0, 2.0, True)]),
    ("mixed", Mixed, "trace", (_t(1, 2, 4, 4),),
     [(_t(1, 2, 4, 4, shift=2.0),), (_t(1, 2, 4, 4, shift=-2.0),)]),
]


def _np(obj) -> np.ndarray:
    if isinstance(obj, torch.Tensor):
        return obj.detach().numpy()
    return np.array(obj, dtype={bool: np.bool_, int: np.int64, float: np.float32}[type(obj)])


def _check(actual, expected, what: str) -> None:
    """Tensors within the parity bound; a Python number (a scalar output) exactly, with its dtype."""
    if isinstance(expected, torch.Tensor):
        assert_close_to_torch(actual, expected, what)
        return
    actual = np.asarray(actual)
    assert actual.shape == () and actual.dtype == _np(expected).dtype and actual.item() == expected, \
        f"{what}: {actual!r}, torch gives {expected!r}"


def _torch_outputs(module, inputs) -> List[torch.Tensor]:
    with torch.no_grad():
        out = module(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _export(name, factory, method, example, tmp_path) -> Tuple[torch.nn.Module, str, Graph]:
    model = _seeded(factory())
    path = str(tmp_path / f"{name}.dkr")
    graph = deploykit.export(model, example, path, method=method)
    reference = torch.jit.script(model) if method == "script" else model
    return reference, path, graph


@pytest.mark.parametrize("name,factory,method,example,runs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_python_and_cpp(name, factory, method, example, runs, tmp_path, deployrt_run):
    reference, path, graph = _export(name, factory, method, example, tmp_path)
    ops = graph.op_histogram()
    assert "if" in ops or "loop" in ops, f"{name}: no control flow was exported:\n{format_graph(graph)}"
    module = deploykit.load(path)
    for k, inputs in enumerate(runs):
        expected = _torch_outputs(reference, inputs)
        actual = module(*[_np(i) for i in inputs])
        actual = list(actual) if isinstance(actual, tuple) else [actual]
        assert len(actual) == len(expected)
        for j, (a, e) in enumerate(zip(actual, expected)):
            _check(a, e, f"{name} run {k} output {j} (Python)")
        # The same through the C++ CLI, no Python in the process.
        args = [deployrt_run, path]
        for i, obj in enumerate(inputs):
            np.save(tmp_path / f"in{k}_{i}.npy", _np(obj))
            args += ["--input", str(tmp_path / f"in{k}_{i}.npy")]
        for j in range(len(expected)):
            args += ["--output", str(tmp_path / f"out{k}_{j}.npy")]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        for j, e in enumerate(expected):
            _check(np.load(tmp_path / f"out{k}_{j}.npy"), e, f"{name} run {k} output {j} (deployrt-run)")


def test_if_on_shape_is_decided_at_export(tmp_path):
    """Shapes are static: a condition on a shape picks its branch at export, no `if` node remains."""
    model = IfOnShape().eval()
    for shape in ((1, 8), (1, 2)):
        x = _t(*shape)
        graph = deploykit.export(model, (x,), tmp_path / "shape.dkr", method="script")
        assert "if" not in graph.op_histogram()
        assert_close_to_torch(deploykit.load(tmp_path / "shape.dkr")(x.numpy()), model(x), f"shape {shape}")


def test_scripted_pt_file_and_scriptmodule_take_the_same_route(tmp_path):
    scripted = torch.jit.script(ForRange().eval())
    scripted.save(str(tmp_path / "m.pt"))
    x = _t(3, 4)
    a = deploykit.export(scripted, (x, 2), tmp_path / "a.dkr")
    b = deploykit.export(str(tmp_path / "m.pt"), (x, 2), tmp_path / "b.dkr")
    assert format_graph(a) == format_graph(b)
    assert [v.type_str() for v in a.inputs] == ["f32[3,4]", "i64[]"]
    out = deploykit.load(tmp_path / "b.dkr")(x.numpy(), np.array(4, dtype=np.int64))
    assert_close_to_torch(out, scripted(x, 4), "scripted .pt")


def test_loop_lowering_structure():
    """for range(n) -> loop(n, None, carried...) whose body takes (iter, cond, carried, captures)."""
    graph, _ = _lower(Recurrent, (_t(1, 4), 3))
    verify_graph(graph)
    (loop,) = [n for n in graph.nodes if n.op == "loop"]
    body = loop.attrs["body"]
    assert loop.attrs["num_carried"] == 2
    assert loop.inputs[0] is graph.inputs[1] and loop.inputs[1] is None
    assert [v.type_str() for v in body.inputs[:4]] == ["i64[]", "bool[]", "f32[1,4]", "f32[1,4]"]
    # x is read inside the body: it is a capture, passed in after the carried values.
    assert loop.inputs[4] is graph.inputs[0] and body.inputs[4].type_str() == "f32[1,4]"
    # The Linear's weights are the body's own constants, shared (one tensor) with nothing else.
    assert any(c.endswith("weight") for c in body.constants)
    assert "loop(" in format_graph(graph) and "body(" in format_graph(graph)


def test_static_for_is_unrolled_and_lists_keep_their_length():
    graph, _ = _lower(TensorLists, (_t(2, 3),))
    assert "loop" not in graph.op_histogram()
    cat = [n for n in graph.nodes if n.op == "cat"]
    assert len(cat[0].inputs) == 4 or len(cat[-1].inputs) == 4


def test_round_trip_and_passes_keep_subgraphs(tmp_path):
    graph, _ = _lower(EarlyReturn, (_t(2, 4),))
    text = format_graph(graph)
    back = read_bytes(serialize(graph)).graph
    assert format_graph(back) == text
    optimized = optimize(back, verify=True)
    assert optimized.op_histogram().get("if", 0) >= 1
    for view in (format_code, format_stats, format_dot):
        assert view(optimized)


def _lower(factory, example):
    from deploykit.frontend.torchscript import to_graph

    return to_graph(_seeded(factory()), example, "script")


# -- errors -----------------------------------------------------------------------------------------


class ShapeChangingLoop(torch.nn.Module):
    def forward(self, x, n: int):
        y = x
        for _ in range(n):
            y = torch.cat([y, x], 1)
        return y


class BranchShapes(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            y = torch.cat([x, x], 1)
        else:
            y = x
        return y


class Everything(torch.nn.Module):
    def forward(self, x, n: int):
        y = x
        for _ in range(n):
            y = torch.cat([y, x], 1)
        if x.sum() > 0:
            z = torch.cat([x, x], 1)
        else:
            z = x
        outs: List[torch.Tensor] = [x]
        for _ in range(n):
            outs.append(x)
        return y, z, outs[n]


def test_unsupported_constructs_are_reported_together_with_source_lines():
    with pytest.raises(UnsupportedOpsError) as info:
        _lower(Everything, (_t(1, 2), 2))
    message = str(info.value)
    assert "loop-carried 'y' is f32[1,2] on entry and f32[1,4] after an iteration" in message
    assert "then branch and f32[1,2] in the else branch" in message
    assert "run-time index" in message or "outer list" in message
    lines = {line for _, loc in info.value.ops for line in [loc] if loc}
    assert all(loc.startswith("test_scripting.py:") for loc in lines) and len(lines) >= 3, info.value.ops


def test_signature_and_example_must_agree():
    with pytest.raises(ExportError, match="declared int in the scripted signature"):
        _lower(ForRange, (_t(3, 4), 2.5))
    with pytest.raises(ExportError, match="scalar inputs need method='script'"):
        deploykit.export(ForRange(), (_t(3, 4), 2), "/nonexistent/x.dkr")


# -- the IR printer on nested graphs (golden) --------------------------------------------------------


def _nested_graph() -> Graph:
    g = Graph("main")
    x = g.add_input("x", "f32", (2,))
    n = g.add_input("n", "i64", ())
    body = Graph("body")
    body.add_input("i", "i64", ())
    body.add_input("cond", "bool", ())
    y = body.add_input("y", "f32", (2,))
    c = body.add_input("c", "bool", ())
    then = Graph("then")
    ty = then.add_input("y", "f32", (2,))
    then.outputs.append(then.add_node("relu", [ty], [("r", "f32", (2,))]).output)
    other = Graph("else")
    ey = other.add_input("y", "f32", (2,))
    half = other.add_constant("half", np.array(0.5, dtype=np.float32))
    other.outputs.append(other.add_node("mul", [ey, half], [("m", "f32", (2,))]).output)
    picked = body.add_node("if", [c, y], [("picked", "f32", (2,))],
                           {"then_branch": then, "else_branch": other}, "m.py:7").output
    body.outputs += [body.add_constant("true", np.array(True)), picked]
    zero = g.add_constant("zero", np.array(0.0, dtype=np.float32))
    positive = g.add_node("compare", [g.add_node("sum", [x], [("s", "f32", ())], {"dims": [0], "keepdim": 0}).output,
                                      zero], [("positive", "bool", ())], {"mode": 4}).output
    out = g.add_node("loop", [n, None, x, positive], [("out", "f32", (2,))], {"body": body, "num_carried": 1},
                     "m.py:5").output
    g.outputs.append(out)
    return g


NESTED_GOLDEN = """\
graph main(%x : f32[2], %n : i64[]):
  %zero : f32[] = constant
  %s : f32[] = sum(%x, dims=[0], keepdim=0)
  %positive : bool[] = compare(%s, %zero, mode=4)
  %out : f32[2] = loop(%n, None, %x, %positive, num_carried=1)  # m.py:5
    body(%i : i64[], %cond : bool[], %y : f32[2], %c : bool[]):
      %true : bool[] = constant
      %picked : f32[2] = if(%c, %y)  # m.py:7
        then_branch(%y : f32[2]):
          %r : f32[2] = relu(%y)
          return (%r)
        else_branch(%y : f32[2]):
          %half : f32[] = constant
          %m : f32[2] = mul(%y, %half)
          return (%m)
      return (%true, %picked)
  return (%out)
"""


def test_nested_graph_golden_print():
    assert format_graph(_nested_graph()) == NESTED_GOLDEN


def test_nested_graph_verifies_and_round_trips():
    g = _nested_graph()
    verify_graph(g)
    data = serialize(g)
    back = read_bytes(data).graph
    assert format_graph(back) == NESTED_GOLDEN
    assert serialize(back, {}) == serialize(g, {})


def test_verifier_rejects_implicit_captures():
    g = _nested_graph()
    loop = g.nodes[-1]
    then = loop.attrs["body"].nodes[0].attrs["then_branch"]
    then.nodes[0].inputs = [g.inputs[0]]  # reads the main graph's %x directly
    with pytest.raises(ExportError, match="explicit|not a value of this graph|used before"):
        verify_graph(g)


def test_verifier_checks_the_subgraph_interface():
    g = _nested_graph()
    loop = g.nodes[-1]
    loop.inputs[2] = g.nodes[1].output  # carries a bool[] into a body that takes f32[2]
    with pytest.raises(ExportError, match=r"body takes \(i64\[\], bool\[\], f32\[2\], bool\[\]\), expected"):
        verify_graph(g)


def test_passes_work_inside_subgraphs_and_keep_used_control_flow():
    g = _nested_graph()
    then = g.nodes[-1].attrs["body"].nodes[0].attrs["then_branch"]
    dead_input = then.inputs[0]
    then.add_node("sigmoid", [dead_input], [("dead", "f32", (2,))])  # nothing reads it
    unused = g.add_node("if", [g.nodes[1].output, g.inputs[0]], [("unused", "f32", (2,))],
                        {"then_branch": _identity_branch("t"), "else_branch": _identity_branch("e")})
    assert unused.outputs[0] not in g.outputs
    out = optimize(g, ["dce", "cse", "remove_identity", "constant_fold", "memory_plan"], verify=True)
    assert [n.op for n in then.nodes] == ["relu"]  # dead code inside a nested branch is gone
    assert [n.op for n in out.nodes] == ["sum", "compare", "loop"]  # the unused if is gone, the loop stays
    assert format_graph(out) == NESTED_GOLDEN


def _identity_branch(name: str) -> Graph:
    b = Graph(name)
    b.outputs.append(b.add_input("v", "f32", (2,)))
    return b


def test_views_show_nested_graphs():
    g = _nested_graph()
    dot = format_dot(g)
    assert "subgraph cluster_n2_body_" in dot and "cluster_n2_body_n0_then_branch_" in dot
    code = format_code(g)
    assert "def body(self, i: i64[], cond: bool[], y: f32[2], c: bool[]) -> Tuple[bool[], f32[2]]:" in code
    assert "def then_branch(self, y: f32[2]) -> f32[2]:" in code
    stats = format_stats(g)
    assert "subgraphs:         3 (if / loop), 3 nodes" in stats


class SharedWeights(torch.nn.Module):
    """A weight read outside and inside a loop; scalar inputs and scalar outputs."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x, n: int, m: int):
        y = self.lin(x)
        for _ in range(n):
            j = 0
            while j < m:
                if y.sum() > 0:
                    y = self.lin(y) * 0.5
                else:
                    y = y + 1.0
                j += 1
        return y, n * 2, float(m) / 2


def test_nested_loops_scalar_outputs_shared_weights_and_selftest(tmp_path, deployrt_run):
    model = _seeded(SharedWeights())
    path = tmp_path / "shared.dkr"
    graph = deploykit.export(model, (_t(2, 3), 2, 3), path, method="script", embed_test_vectors=True)
    assert [v.type_str() for v in graph.outputs] == ["f32[2,3]", "i64[]", "f32[]"]
    # lin.weight is a constant of the main graph and of a branch nested in two loops: one tensor.
    back = read_bytes(path.read_bytes())
    weights = {id(a) for g in back.graph.all_graphs() for name, a in g.constants.items() if name == "lin.weight"}
    assert len(weights) == 1 and sum("lin.weight" in g.constants for g in back.graph.all_graphs()) == 2
    module, scripted = deploykit.load(path), torch.jit.script(model)
    for n, m in ((0, 0), (1, 1), (3, 2), (2, 0)):
        y, twice, half = module(_t(2, 3).numpy(), np.array(n), np.array(m))
        with torch.no_grad():
            ey, etwice, ehalf = scripted(_t(2, 3), n, m)
        assert_close_to_torch(y, ey, f"n={n} m={m}")
        assert twice.dtype == np.int64 and int(twice) == etwice and float(half) == ehalf
    proc = subprocess.run([deployrt_run, str(path), "--selftest"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "selftest passed" in proc.stdout, proc.stdout + proc.stderr


def _patched_nested(mutate) -> bytes:
    from dkr_patch import ArchivePatch

    p = ArchivePatch(serialize(_nested_graph(), {}))
    mutate(p)
    return p.fix_crcs().bytes()


def _if_node(p) -> int:
    return p.node_of_op(17)


@pytest.mark.parametrize("what,mutate,message", [
    # the if inside the loop body (graph 1) takes graph 1 itself as its then_branch
    ("cycle", lambda p: p.put("Q", p.attr_of(_if_node(p), "then_branch") + 8, 1), r"cycle of GRAPH attributes"),
    ("main_as_subgraph", lambda p: p.put("Q", p.attr_of(_if_node(p), "then_branch") + 8, 0),
     r"graph index 0 out of range"),
    # the branch's relu reads the loop body's %y directly (an implicit capture)
    ("implicit_capture", lambda p: p.put("I", p.index_slot(p.node_fields(p.node_of_op(3))["input_begin"]),
                                         p.get("I", p.graph_io_slot(1, "input", 2))),
     r"not a value of this graph|used before it is defined"),
])
def test_reader_rejects_malformed_subgraphs(what, mutate, message, tmp_path):
    data = _patched_nested(mutate)
    with pytest.raises(deploykit.ArchiveError, match=message):
        read_bytes(data)
    path = tmp_path / f"{what}.dkr"
    path.write_bytes(data)
    with pytest.raises(deploykit.DeployError):  # the C++ loader rejects it too
        deploykit.load(path)


def test_reader_copies_a_shared_subgraph(tmp_path):
    """Both branches naming one graph is valid (the runtime runs it either way); the IR gets a copy."""
    from dkr_patch import ArchivePatch

    p = ArchivePatch(serialize(_nested_graph(), {}))
    p.put("Q", p.attr_of(_if_node(p), "else_branch") + 8, p.get("Q", p.attr_of(_if_node(p), "then_branch") + 8))
    data = p.fix_crcs().bytes()
    graph = read_bytes(data).graph
    inner = graph.nodes[-1].attrs["body"].nodes[0]
    then, other = inner.attrs["then_branch"], inner.attrs["else_branch"]
    assert then is not other and format_graph(then) == format_graph(other)
    (tmp_path / "shared.dkr").write_bytes(data)
    x = np.array([1.5, -2.0], dtype=np.float32)
    out = deploykit.load(tmp_path / "shared.dkr")(x, np.array(3))
    np.testing.assert_array_equal(out, np.maximum(x, 0))  # relu on either path, as often as it runs
