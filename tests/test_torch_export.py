"""The torch.export frontend (method="export", ExportedProgram, torch.cond) against PyTorch.

Each case is exported through torch.export.export -> run_decompositions -> the FX walker of
deploykit/frontend/torch_export.py, run in the C++ runtime and compared with eager PyTorch
under the project's parity bound. The op grid reuses one or two edge cases per op from
test_ops_parity.py (torch.export of even a tiny model costs about a second, so not all of
them), plus ops only this route produces (sub, div, neg, squeeze/unsqueeze, addmm).
"""

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import deploykit
from deploykit.archive.reader import read
from deploykit.cli import main as cli_main
from deploykit.errors import ExportError, UnsupportedOpsError
from deploykit.models.mobilenet_v2 import random_mobilenet_v2
from helpers import assert_close_to_torch, clone_inputs, torch_reference
from models import make_resnet, make_tiny_bn_net
from test_ops_parity import (ADAPTIVE_CASES, ADD_CASES, AVGPOOL_CASES, BN_CASES, CAT_CASES, CONV_CASES,
                             FLATTEN_CASES, HARDTANH_CASES, LINEAR_CASES, MAXPOOL_CASES, MEAN_CASES, MUL_CASES,
                             RELU_CASES, RESHAPE_CASES, SIGMOID_CASES, SOFTMAX_CASES, Case, Fn)


def export_and_run(model, inputs, path, **kwargs):
    """method="export" -> load -> run; compares every output with eager PyTorch. Returns the graph."""
    model = model.eval()
    expected = torch_reference(model, inputs)
    graph = deploykit.export(model, clone_inputs(inputs), str(path), method="export", **kwargs)
    actual = deploykit.load(str(path))(*(t.numpy().copy() for t in clone_inputs(inputs)))
    if not isinstance(expected, tuple):
        expected, actual = (expected,), (actual,)
    assert isinstance(actual, tuple) and len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        if e.dtype == np.float32:
            assert_close_to_torch(a, e, what=f"output {i}")
        else:  # integer and bool results are exact
            assert a.dtype == e.dtype and a.shape == e.shape, (i, a.dtype, a.shape, e.dtype, e.shape)
            np.testing.assert_array_equal(a, e, err_msg=f"output {i}")
    return graph


# --- whole networks --------------------------------------------------------------------------------


def test_resnet18_matches_torch(archive_dir, torch_gen):
    graph = export_and_run(make_resnet("resnet18", seed=0), (torch.randn(1, 3, 224, 224, generator=torch_gen),),
                           archive_dir / "resnet18.dkr")
    # BatchNorm folded into the 20 convolutions, residual adds and ReLUs fused: the same graph as tracing.
    assert graph.op_histogram()["conv2d"] == 20 and "batch_norm" not in graph.op_histogram()


def test_mobilenet_v2_matches_torch(archive_dir, torch_gen):
    graph = export_and_run(random_mobilenet_v2(seed=0), (torch.randn(1, 3, 224, 224, generator=torch_gen),),
                           archive_dir / "mobilenet_v2.dkr")
    assert graph.op_histogram()["conv2d"] == 52


def test_exported_program_is_taken_directly(archive_dir, torch_gen):
    """An ExportedProgram (no method= needed) with its own example inputs; parameter names survive."""
    model = make_tiny_bn_net()
    x = torch.randn(2, 3, 8, 8, generator=torch_gen)
    program = torch.export.export(model, (x,))
    path = archive_dir / "program.dkr"
    graph = deploykit.export(program, None, str(path), optimize=False)
    assert {"conv.weight", "bn.running_mean", "bn.running_var", "fc.weight", "fc.bias"} <= set(graph.constants)
    assert [v.shape for v in graph.inputs] == [(2, 3, 8, 8)]
    with torch.no_grad():
        expected = model(x)
    assert_close_to_torch(deploykit.load(str(path))(x.numpy()), expected)
    nodes = {n.op: n for n in graph.nodes}
    assert nodes["conv2d"].name == "conv" and nodes["conv2d"].source.startswith("models.py:")


def test_embedded_test_vectors_come_from_the_program(archive_dir, torch_gen):
    """embed_test_vectors runs the ExportedProgram itself, and leaves the model in the mode it had."""
    model = make_tiny_bn_net().train()
    x = torch.randn(1, 3, 8, 8, generator=torch_gen)
    path = archive_dir / "tv.dkr"
    deploykit.export(model, (x,), str(path), method="export", embed_test_vectors=True)
    assert model.training
    vectors = read(str(path)).test_vectors.vectors
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    np.testing.assert_array_equal(vectors[0][0][0], x.numpy())
    np.testing.assert_array_equal(vectors[0][1][0], expected)


# --- CLI ------------------------------------------------------------------------------------------------------


def test_cli_exports_a_saved_program_and_a_factory_with_method_export(tmp_path, torch_gen, capsys):
    model = make_tiny_bn_net()
    x = torch.randn(1, 3, 8, 8, generator=torch_gen)
    with torch.no_grad():
        expected = model(x)
    pt2 = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(pt2))
    out = tmp_path / "from_pt2.dkr"
    assert cli_main(["export", str(pt2), "-o", str(out)]) == 0  # no --input-shape: the program's own inputs
    assert read(str(out)).metadata["source"] == "exported-program"
    assert_close_to_torch(deploykit.load(str(out))(x.numpy()), expected)
    out = tmp_path / "from_factory.dkr"  # tests/ is on sys.path under pytest
    assert cli_main(["export", "models:make_tiny_bn_net", "--method", "export", "--input-shape", "1,3,8,8",
                     "-o", str(out)]) == 0
    assert read(str(out)).metadata["source"] == "torch.export"
    assert_close_to_torch(deploykit.load(str(out))(x.numpy()), expected)
    assert "from_factory.dkr: " in capsys.readouterr().out


# --- op grid -------------------------------------------------------------------------------------------

def _by_id(cases, *ids):
    """The cases of a test_ops_parity.py list named `ids` (by id, so edits there cannot shift them)."""
    by_id = {c.id: c for c in cases}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise LookupError(f"test_ops_parity.py has no case {missing}: update the GRID of test_torch_export.py")
    return [by_id[i] for i in ids]


# Every op kind of test_ops_parity.py, with the cases that hit its edges (padding modes, ceil_mode,
# broadcasting, negative dims, in-place forms, constant operands).
GRID = (
    _by_id(CONV_CASES, "c3to4_k3_s2_p2_d1_g1_bias_n1_7x9", "c3to4_k7_s2_p2_d1_g1_bias_n1_7x9",
           "c3to4_k4_s1_psame_d1_g1_bias_n1_7x9", "c17to17_k3_s2_p1_d1_g17_nobias_n1_7x9")
    + _by_id(BN_CASES, "bn2d_no_affine", "bn1d_3d_input")
    + _by_id(RELU_CASES, "relu_inplace_method_after_mul")
    + _by_id(ADD_CASES, "add_broadcast_last_dim", "add_constant_param")
    + _by_id(MAXPOOL_CASES, "k2_s3_p1_d1_ceil_5x5")
    + _by_id(AVGPOOL_CASES, "k3_s2_p1_ceil_excpad_divNone_8x8")
    + _by_id(ADAPTIVE_CASES, "out3x3_in7x7")
    + _by_id(FLATTEN_CASES, "start-3_end-2_rank4")
    + _by_id(LINEAR_CASES, "in7_out5_bias_x2x3x7")
    + _by_id(HARDTANH_CASES, "hardtanh_inplace", "clamp_-1_1")
    + _by_id(SIGMOID_CASES, "sigmoid_saturating")
    + _by_id(MUL_CASES, "mul_squeeze_excite_gate")
    + _by_id(RESHAPE_CASES, "view_size0_-1")
    + _by_id(CAT_CASES, "cat_dim-3_three_inputs")
    + _by_id(MEAN_CASES, "dims3_1_drop")
    + _by_id(SOFTMAX_CASES, "single_element_axis")
)


class LinearViaMatmul(nn.Module):
    """x @ W.t() + b as written by hand: the transposed constant folds at export into linear."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(5, 7))
        self.b = nn.Parameter(torch.randn(5))

    def forward(self, x):
        return x @ self.w.t() + self.b, torch.addmm(self.b, x, self.w.t())


EXPORT_ONLY = [
    Case("sub_tensor", lambda: Fn(lambda a, b: a - b), [(2, 3, 4), (3, 1)]),
    Case("sub_alpha_and_rsub", lambda: Fn(lambda a, b: torch.sub(a, b, alpha=2.5) + (1.0 - a)), [(2, 5), (2, 5)]),
    Case("div_tensor_broadcast", lambda: Fn(lambda a, b: a / b), [(2, 3, 4), (4,)], shift=3.0),
    Case("div_scalar", lambda: Fn(lambda x: x / 3.0), [(2, 3, 4)]),
    Case("neg", lambda: Fn(lambda x: -x * 2), [(3, 4)]),
    Case("squeeze_unsqueeze", lambda: Fn(lambda x: torch.sigmoid(x.squeeze(1)).unsqueeze(-1)), [(2, 1, 5)]),
    Case("matmul_transposed_weight", LinearViaMatmul, [(3, 7)]),
    Case("max_pool_with_indices_output_only",
         lambda: Fn(lambda x: F.max_pool2d(x, 2, return_indices=True)[0]), [(1, 2, 6, 6)]),
    Case("dropout_eval", lambda: nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5)), [(3, 6)]),
    Case("two_outputs", lambda: Fn(lambda a, b: (torch.sigmoid(a) * b, torch.cat([a, b], dim=1))),
         [(2, 3), (2, 3)]),
]


def _ids(cases):
    return [c.id for c in cases]


@pytest.mark.parametrize("case", GRID + EXPORT_ONLY, ids=_ids(GRID + EXPORT_ONLY))
def test_op_matches_torch(case, archive_dir, torch_gen):
    torch.manual_seed(0)
    model = case.build()
    inputs = tuple(torch.randn(*s, generator=torch_gen) * case.scale + case.shift for s in case.shapes)
    export_and_run(model, inputs, archive_dir / f"{case.id}.dkr")


# --- errors -----------------------------------------------------------------------------------------------


def _line_of(fragment: str) -> int:
    """Line number of `fragment` in this file, so the expected source lines follow edits."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    return next(i + 1 for i, line in enumerate(lines) if fragment in line)


class TwoUnsupported(nn.Module):
    def forward(self, x):
        y = torch.exp(x)  # unsupported-1
        z = y.transpose(0, 1)  # unsupported-2
        return torch.relu(z) + 1.0


def test_unsupported_ops_are_reported_together_with_source_lines(archive_dir):
    path = archive_dir / "bad.dkr"
    with pytest.raises(UnsupportedOpsError) as info:
        deploykit.export(TwoUnsupported(), (torch.randn(2, 3),), str(path), method="export")
    message = str(info.value)
    assert "2 unsupported ops" in message
    assert f"aten::exp (test_torch_export.py:{_line_of('# unsupported-1')})" in message
    assert f"aten::transpose (test_torch_export.py:{_line_of('# unsupported-2')})" in message
    assert ("aten::exp", f"test_torch_export.py:{_line_of('# unsupported-1')}") in info.value.ops
    assert not path.exists()


def test_training_mode_program_is_rejected(archive_dir):
    program = torch.export.export(nn.BatchNorm2d(3).train(), (torch.randn(2, 3, 4, 4),))
    with pytest.raises(UnsupportedOpsError, match=r"aten::_native_batch_norm_legit\w* \(training mode"):
        deploykit.export(program, None, str(archive_dir / "train.dkr"))


class CountsCalls(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls.add_(1)
        return x * 2


def test_programs_with_side_effects_are_rejected(archive_dir):
    with pytest.raises(ExportError, match="side effect .buffer_mutation of 'calls'"):
        deploykit.export(CountsCalls(), (torch.randn(3),), str(archive_dir / "mut.dkr"), method="export")


def test_wrong_example_inputs_are_rejected(archive_dir):
    program = torch.export.export(make_tiny_bn_net(), (torch.randn(1, 3, 8, 8),))
    with pytest.raises(ExportError, match=re.escape("example input 0 is float32[1, 3, 9, 8]")):
        deploykit.export(program, (torch.randn(1, 3, 9, 8),), str(archive_dir / "x.dkr"))
    with pytest.raises(ExportError, match="method='export' takes"):
        deploykit.export(torch.jit.script(nn.ReLU()), (torch.randn(2),), str(archive_dir / "y.dkr"),
                         method="export")


# --- torch.cond -> if ----------------------------------------------------------------------------------------


class CondOnSum(nn.Module):
    """if x.sum() > 0: linear(x) + y else: x * y - 1, then a shared tail: both branches read a weight."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x, y):
        def positive(x, y):
            return self.lin(x) + y

        def negative(x, y):
            return x * y - 1.0

        return torch.cond(x.sum() > 0, positive, negative, (x, y)) * 2.0  # cond-on-sum


class NestedCond(nn.Module):
    """A cond inside a branch, two outputs, predicates on a sum and on a mean."""

    def forward(self, x):
        def outer_true(x):
            def inner_true(x):
                return torch.sigmoid(x), x + 1.0

            def inner_false(x):
                return torch.relu(x), x - 1.0

            return torch.cond(x.mean() < 0.5, inner_true, inner_false, (x,))

        def outer_false(x):
            return x * 3.0, x / 2.0

        return torch.cond(x.sum() > 0, outer_true, outer_false, (x,))


def _cond_ops(graph):
    return [n for n in graph.nodes if n.op == "if"]


def test_cond_takes_each_branch(archive_dir, torch_gen):
    torch.manual_seed(0)
    model = CondOnSum().eval()
    export_x = torch.randn(2, 4, generator=torch_gen)
    y = torch.randn(2, 4, generator=torch_gen)
    path = archive_dir / "cond.dkr"
    graph = deploykit.export(model, (export_x, y), str(path), method="export")
    (node,) = _cond_ops(graph)
    then_branch, else_branch = node.attrs["then_branch"], node.attrs["else_branch"]
    assert [v.type_str() for v in then_branch.inputs] == [v.type_str() for v in node.inputs[1:]]
    assert {n.op for n in then_branch.nodes} >= {"linear"} and "linear" not in {n.op for n in else_branch.nodes}
    assert node.source == f"test_torch_export.py:{_line_of('# cond-on-sum')}"
    module = deploykit.load(str(path))
    # One archive takes the branch each runtime input selects, not the one export saw.
    for shift in (3.0, -3.0):
        x = torch.randn(2, 4, generator=torch_gen) * 0.1 + shift
        with torch.no_grad():
            expected = model(x, y)
        assert_close_to_torch(module(x.numpy(), y.numpy()), expected, what=f"x ~ {shift}")


def test_nested_cond_with_two_outputs(archive_dir, torch_gen):
    model = NestedCond().eval()
    path = archive_dir / "nested.dkr"
    graph = deploykit.export(model, (torch.randn(3, 5, generator=torch_gen),), str(path), method="export")
    (outer,) = _cond_ops(graph)
    assert len(outer.outputs) == 2 and len(_cond_ops(outer.attrs["then_branch"])) == 1
    module = deploykit.load(str(path))
    for shift, path_taken in ((-5.0, "outer else"), (0.3, "inner then"), (5.0, "inner else")):
        x = torch.rand(3, 5, generator=torch_gen) * 0.2 + shift
        with torch.no_grad():
            expected = model(x)
        actual = module(x.numpy())
        for i in range(2):
            assert_close_to_torch(actual[i], expected[i], what=f"{path_taken}: output {i}")


class CondOnPythonBool(nn.Module):
    def __init__(self, flag: bool):
        super().__init__()
        self.flag = flag

    def forward(self, x):
        return torch.cond(self.flag, lambda x: x + 1.0, lambda x: x * 10.0, (x,))


@pytest.mark.parametrize("flag", [True, False])
def test_cond_on_python_bool_keeps_only_the_taken_branch(flag, archive_dir, torch_gen):
    graph = export_and_run(CondOnPythonBool(flag), (torch.randn(2, 3, generator=torch_gen),),
                           archive_dir / "static.dkr", optimize=False)
    assert not _cond_ops(graph) and [n.op for n in graph.nodes] == ["add" if flag else "mul"]


class CondWithUnsupportedBranch(nn.Module):
    def forward(self, x):
        def true_fn(x):
            return torch.exp(x)

        def false_fn(x):
            return x.tanh()

        return torch.cond(x.sum() > 0, true_fn, false_fn, (x,))  # cond-with-unsupported


def test_unsupported_ops_inside_branches_are_reported(archive_dir):
    """torch.export keeps no source line of its own for a branch's ops: they are reported at the torch.cond."""
    with pytest.raises(UnsupportedOpsError) as info:
        deploykit.export(CondWithUnsupportedBranch(), (torch.randn(2, 2),), str(archive_dir / "b.dkr"),
                         method="export")
    where = f"test_torch_export.py:{_line_of('# cond-with-unsupported')}"
    assert sorted(info.value.ops) == [("aten::exp", where), ("aten::tanh", where)]


class MixedDtypes(nn.Module):
    """int64 and bool arithmetic on the way to a float result: casts, integer ops, logical ops."""

    def forward(self, x):
        count = (x > 0).sum()  # i64[]: bools summed
        both = (x > -0.5) & (x < 0.5)  # logical and
        inside = both.to(torch.float32) * 2.0 + (~both).float()  # logical_not, cast bool -> f32
        return inside + (count - 3).float(), (count + 1) * 2  # i64 sub / add / mul, cast i64 -> f32


def test_integer_and_bool_arithmetic(archive_dir, torch_gen):
    graph = export_and_run(MixedDtypes(), (torch.randn(3, 4, generator=torch_gen),), archive_dir / "mixed.dkr",
                           optimize=False)
    ops = graph.op_histogram()
    assert {"compare", "logical", "logical_not", "cast", "sum", "sub"} <= set(ops), ops
    assert graph.outputs[1].type_str() == "i64[]"
