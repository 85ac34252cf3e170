"""ONNX import: onnx's own node tests for the mapped ops (each passes or is refused at import),
opset differences, constant folding, all-at-once error reports, the round trip of
`inspect --onnx`, ResNet-18 exported by torch.onnx, and `deploykit export model.onnx`."""

import importlib.util
import sys

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import deploykit  # noqa: E402
from deploykit.errors import ExportError, UnsupportedOpsError  # noqa: E402
from deploykit.frontend.onnx_import import SUPPORTED_OPS, import_onnx  # noqa: E402

from helpers import REPO_ROOT, assert_close_to_torch, deploykit_cli  # noqa: E402


def _conformance():
    spec = importlib.util.spec_from_file_location("onnx_conformance", REPO_ROOT / "scripts" / "onnx_conformance.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def conformance_results():
    conformance = _conformance()
    ops = [op for op in SUPPORTED_OPS if op in conformance.NODE_MODULES]
    cases = conformance.node_cases(ops)
    cases += conformance.data_dir_cases("pytorch-converted") + conformance.data_dir_cases("pytorch-operator")
    return conformance, conformance.run_all(cases)


def test_node_tests_of_mapped_ops_pass_or_are_refused(conformance_results):
    conformance, results = conformance_results
    failures = [f"{r.case.name}: {r.reason}" for r in results if r.outcome == conformance.FAIL]
    assert not failures, "\n".join(failures)
    refused = [r for r in results if r.outcome == conformance.NOT_SUPPORTED]
    assert all(r.reason for r in refused), "every refusal names its reason"


def test_every_core_op_has_passing_node_tests(conformance_results):
    """The refusals above must not hide an importer that refuses everything."""
    conformance, results = conformance_results
    core = ("Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "Flatten", "Gemm",
            "GlobalAveragePool", "MaxPool", "Mul", "ReduceMean", "Relu", "Reshape", "Sigmoid", "Softmax",
            "Squeeze", "Unsqueeze")
    passing = {r.case.op for r in results if r.outcome == conformance.PASS and r.nodes > 0}
    assert not set(core) - passing, f"no passing node test with a runtime node for {sorted(set(core) - passing)}"
    converted = [r for r in results if r.case.kind == "pytorch-converted" and r.outcome == conformance.PASS]
    assert {"test_Conv2d", "test_BatchNorm2d_eval", "test_Linear", "test_MaxPool2d", "test_Softmax"} <= \
        {r.case.name for r in converted}


# -- hand-built models ---------------------------------------------------------------------------------


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _run(model, *inputs, tmp_path, **kwargs):
    path = tmp_path / "m.dkr"
    deploykit.export(model, None, path, **kwargs)
    out = deploykit.load(str(path), num_threads=1)(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("opset", [6, 13])
def test_clip_bounds_as_attributes_or_inputs(opset, tmp_path):
    x = np.linspace(-3, 8, 24, dtype=np.float32).reshape(2, 3, 4)
    if opset < 11:
        node = helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=6.0)
        inits = []
    else:
        node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = [numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
                 numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    model = _model([node], [_f32("x", [2, 3, 4])], [_f32("y", [2, 3, 4])], inits, opset)
    graph = import_onnx(model)
    assert [n.op for n in graph.nodes] == ["hardtanh"] and graph.nodes[0].attrs["min_val"] == -1.0
    np.testing.assert_array_equal(_run(model, x, tmp_path=tmp_path)[0], np.clip(x, -1, 6))


@pytest.mark.parametrize("opset,axis", [(11, 1), (11, -1), (13, 1), (13, 0)])
def test_softmax_axis_semantics_per_opset(opset, axis, tmp_path):
    """Before opset 13 Softmax normalizes over all dims from axis on (a 2-D coercion)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    model = _model([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], [_f32("x", [2, 3, 4])],
                   [_f32("y", [2, 3, 4])], opset=opset)
    actual = _run(model, x, tmp_path=tmp_path)[0]
    # The spec, in numpy (onnx's ReferenceEvaluator applies the opset-13 rule to opset 11 too).
    if opset < 13:
        start = axis % 3
        flat = x.reshape(int(np.prod(x.shape[:start])), -1)
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        expected = (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)
    else:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        expected = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [13, 18])
def test_reduce_mean_axes_attribute_or_input(opset, tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    if opset < 18:
        node, inits = helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1, 1], keepdims=0), []
    else:
        node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)
        inits = [numpy_helper.from_array(np.array([-1, 1], np.int64), "axes")]
    model = _model([node], [_f32("x", [2, 3, 4, 5])], [_f32("y", [2, 4])], inits, opset)
    np.testing.assert_allclose(_run(model, x, tmp_path=tmp_path)[0], x.mean(axis=(1, 3)), rtol=1e-5, atol=1e-6)


def test_shape_arithmetic_is_folded_at_import(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape (what torch.onnx writes for x.view(n, -1))."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
        helper.make_node("Relu", ["y"], ["z"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    model = _model(nodes, [_f32("x", [2, 3, 4])], [_f32("z", [2, 12])], inits)
    graph = import_onnx(model)
    assert [n.op for n in graph.nodes] == ["reshape", "relu"]
    x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(_run(model, x, tmp_path=tmp_path)[0], np.maximum(x.reshape(2, 12), 0))


def test_unsupported_nodes_are_reported_together_with_names():
    nodes = [helper.make_node("Tanh", ["x"], ["a"], name="first_tanh"),
             helper.make_node("Relu", ["a"], ["b"], name="relu_after"),  # checked on a stand-in: fine
             helper.make_node("MaxPool", ["x"], ["c"], name="pool3d", kernel_shape=[1, 1, 1]),
             helper.make_node("Add", ["b", "c"], ["y"], name="join")]
    model = _model(nodes, [_f32("x", [1, 2, 4, 4, 4])], [_f32("y", [1, 2, 4, 4, 4])])
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(model)
    message = str(info.value)
    assert "2 construct(s)" in message
    assert "Tanh (node 'first_tanh')" in message and "MaxPool (node 'pool3d')" in message
    assert "2-D" in message and "relu_after" not in message
    assert info.value.ops == [("Tanh", "first_tanh"), ("MaxPool", "pool3d")]


def test_unsupported_dtype_and_dynamic_shape_are_clear(tmp_path):
    model = _model([helper.make_node("Relu", ["x"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [2])],
                   [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [2])])
    with pytest.raises(UnsupportedOpsError, match="graph input 'x': is double"):
        import_onnx(model)
    dynamic = _model([helper.make_node("Relu", ["x"], ["y"])], [_f32("x", ["N", 3])], [_f32("y", ["N", 3])])
    with pytest.raises(UnsupportedOpsError, match=r"dynamic shape \[N,3\]"):
        import_onnx(dynamic)
    graph = import_onnx(dynamic, input_shapes={"x": (5, 3)})
    assert graph.inputs[0].shape == (5, 3) and graph.outputs[0].shape == (5, 3)
    with pytest.raises(ExportError, match="no graph input named 'nope'"):
        import_onnx(dynamic, input_shapes={"nope": (1,)})


def test_inputs_needed_as_constants_can_be_bound(tmp_path):
    model = _model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                   [_f32("x", [2, 6]), helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                   [_f32("y", [3, 4])])
    with pytest.raises(UnsupportedOpsError, match="'shape' must be a constant") as info:
        import_onnx(model)
    assert info.value.inputs_needed_constant == ["shape"]
    graph = import_onnx(model, constant_inputs={"shape": np.array([3, -1], np.int64)})
    assert [v.name for v in graph.inputs] == ["x"] and graph.outputs[0].shape == (3, 4)


def test_round_trip_of_inspect_onnx(tmp_path):
    """What views/onnx_export.py writes (fused epilogues spelled out) imports back to the same results."""
    from pass_testing import inputs_for, run_runtime
    from test_views_onnx import every_op_graph

    from deploykit.views.onnx_export import to_onnx

    graph = every_op_graph()
    inputs = inputs_for(graph)
    expected = run_runtime(graph, inputs, tmp_path / "a.dkr")
    actual = _run(to_onnx(graph), *inputs, tmp_path=tmp_path)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close_to_torch(a, e, what=f"output {i}")


# -- real exports ------------------------------------------------------------------------------------------


def _torch_onnx_export(model, x, path):
    # The dynamo-based exporter needs onnxscript, which the project does not install.
    with torch.no_grad():
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_resnet18_from_torch_onnx_export_matches_pytorch(tmp_path):
    from deploykit.models.resnet import random_resnet

    model = random_resnet(18, seed=0).eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    _torch_onnx_export(model, x, tmp_path / "r18.onnx")
    graph = deploykit.export(str(tmp_path / "r18.onnx"), None, tmp_path / "r18.dkr")
    assert graph.op_histogram()["conv2d"] == 20 and "batch_norm" not in graph.op_histogram()
    with torch.no_grad():
        expected = model(x)
    assert_close_to_torch(deploykit.load(str(tmp_path / "r18.dkr"))(x.numpy()), expected)


class _SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        y = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return torch.softmax(self.fc(y.flatten(1)), dim=1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_export_onnx(tmp_path):
    torch.manual_seed(0)
    model = _SmallNet().eval()
    x = torch.randn(2, 3, 8, 8)
    _torch_onnx_export(model, x, tmp_path / "small.onnx")
    result = deploykit_cli(["export", tmp_path / "small.onnx", "-o", tmp_path / "small.dkr", "--embed-test-vectors"])
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    with torch.no_grad():
        expected = model(x)
    assert_close_to_torch(deploykit.load(str(tmp_path / "small.dkr"))(x.numpy()), expected)
    verify = deploykit_cli(["verify", tmp_path / "small.dkr"])
    assert verify.returncode == 0 and "PASS" in verify.stdout, verify.stdout + verify.stderr


def test_cli_export_onnx_reports_unsupported_ops(tmp_path):
    model = _model([helper.make_node("Tanh", ["x"], ["a"], name="t1"), helper.make_node("Elu", ["a"], ["y"], name="e1")],
                   [_f32("x", [2, 3])], [_f32("y", [2, 3])])
    onnx.save(model, str(tmp_path / "bad.onnx"))
    result = deploykit_cli(["export", tmp_path / "bad.onnx", "-o", tmp_path / "bad.dkr"])
    assert result.returncode == 2
    # e1 reads t1's output: it is still checked (with ONNX's inferred type) and reported too.
    assert "2 construct(s)" in result.stderr and "Tanh (node 't1')" in result.stderr and "Elu (node 'e1')" in result.stderr
    assert not (tmp_path / "bad.dkr").exists()


def test_if_on_a_condition_known_at_import_inlines_the_taken_branch(tmp_path):
    def branch(op, name):
        return helper.make_graph([helper.make_node(op, ["x"], [name])], name, [], [_f32(name, [2, 3])])

    for flag, expected_op in ((True, "relu"), (False, "sigmoid")):
        model = _model([helper.make_node("If", ["cond"], ["y"], then_branch=branch("Relu", "then_out"),
                                         else_branch=branch("Sigmoid", "else_out"))],
                       [_f32("x", [2, 3])], [_f32("y", [2, 3])],
                       [numpy_helper.from_array(np.array(flag), "cond")])
        graph = import_onnx(model)
        assert [n.op for n in graph.nodes] == [expected_op]
        x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
        expected = np.maximum(x, 0) if flag else 1 / (1 + np.exp(-x))
        np.testing.assert_allclose(_run(model, x, tmp_path=tmp_path)[0], expected, rtol=1e-6, atol=1e-7)


def _scalar_info(name, elem_type):
    return helper.make_tensor_value_info(name, elem_type, [])


def _reference(model, feeds):
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)


def test_if_on_a_run_time_condition_is_an_if_node_with_captures(tmp_path):
    # then: relu(x) * w (x, w captured: w an initializer, copied in as a constant); else: sigmoid(x) - 1
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "w"], ["t"])],
                               "then", [], [_f32("t", [2, 3])])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Sub", ["s", "one"], ["e"])],
                               "else", [], [_f32("e", [2, 3])])
    nodes = [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
             helper.make_node("Greater", ["total", "zero"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g)]
    inits = [numpy_helper.from_array(np.full((2, 3), 2.5, np.float32), "w"),
             numpy_helper.from_array(np.array(1.0, np.float32), "one"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    model = _model(nodes, [_f32("x", [2, 3])], [_f32("y", [2, 3])], inits)
    graph = import_onnx(model)
    (if_node,) = [n for n in graph.nodes if n.op == "if"]
    assert [v.name for v in if_node.inputs[1:]] == ["x"]  # the one run-time capture
    for branch in (if_node.attrs["then_branch"], if_node.attrs["else_branch"]):
        assert [(v.dtype, v.shape) for v in branch.inputs] == [("f32", (2, 3))]
    for x in (np.linspace(-1, 2, 6, dtype=np.float32).reshape(2, 3), np.linspace(-2, 1, 6, dtype=np.float32).reshape(2, 3)):
        (expected,) = _reference(model, {"x": x})
        np.testing.assert_allclose(_run(model, x, tmp_path=tmp_path)[0], expected, rtol=1e-6, atol=1e-7)


def _counting_loop(with_max_trip: bool, with_cond: bool):
    """acc = acc * f + i (f captured from outside) while acc < limit, at most M times."""
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["acc_in", "f"], ["scaled"]),
         helper.make_node("Add", ["scaled", "i_f"], ["acc_out"]),
         helper.make_node("ReduceSum", ["acc_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"])],
        "body", [_scalar_info("i", TensorProto.INT64), _scalar_info("cond_in", TensorProto.BOOL), _f32("acc_in", [3])],
        [_scalar_info("cond_out", TensorProto.BOOL), _f32("acc_out", [3])])
    inputs = [_f32("acc0", [3]), _f32("f", [3])]
    loop_inputs = ["", "", "acc0"]
    if with_max_trip:
        inputs.append(_scalar_info("m", TensorProto.INT64))
        loop_inputs[0] = "m"
    if with_cond:
        inputs.append(_scalar_info("c", TensorProto.BOOL))
        loop_inputs[1] = "c"
    inits = [numpy_helper.from_array(np.array(40.0, np.float32), "limit")]
    return _model([helper.make_node("Loop", loop_inputs, ["acc"], body=body)], inputs, [_f32("acc", [3])], inits)


@pytest.mark.parametrize("with_max_trip,with_cond", [(True, True), (True, False), (False, True)])
def test_loop_is_a_loop_node_with_carried_values_and_captures(with_max_trip, with_cond, tmp_path):
    model = _counting_loop(with_max_trip, with_cond)
    graph = import_onnx(model)
    (loop,) = [n for n in graph.nodes if n.op == "loop"]
    assert loop.attrs["num_carried"] == 1 and [v.name for v in loop.inputs[3:]] == ["f"]
    assert (loop.inputs[0] is None) == (not with_max_trip) and (loop.inputs[1] is None) == (not with_cond)
    acc0 = np.array([1.0, 0.5, -1.0], np.float32)
    f = np.array([2.0, 1.0, 0.5], np.float32)
    # trip counts 0, 1 and many; a cond that stops the loop before M does; a false initial cond.
    for m, c in ((0, True), (1, True), (3, True), (50, True), (50, False)):
        if not with_max_trip and m != 50:
            continue
        if not with_cond and not c:
            continue
        feeds = {"acc0": acc0, "f": f}
        if with_max_trip:
            feeds["m"] = np.array(m, np.int64)
        if with_cond:
            feeds["c"] = np.array(c)
        # By hand: onnx's reference evaluator never enters a Loop whose cond input is absent (the
        # spec says absent means true).
        expected, i, going = acc0.copy(), 0, c
        while going and (not with_max_trip or i < m):
            expected = expected * f + np.float32(i)
            going, i = expected.sum() < 40.0, i + 1
        got = _run(model, *feeds.values(), tmp_path=tmp_path)[0]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=f"M={m} cond={c}")


def test_loop_scan_outputs_and_branch_shape_mismatch_are_refused():
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                              helper.make_node("Relu", ["v_in"], ["v_out"]),
                              helper.make_node("Sigmoid", ["v_in"], ["scan"])],
                             "body", [_scalar_info("i", TensorProto.INT64), _scalar_info("cond_in", TensorProto.BOOL),
                                      _f32("v_in", [2])],
                             [_scalar_info("cond_out", TensorProto.BOOL), _f32("v_out", [2]), _f32("scan", [2])])
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_f32("t", [2])])
    else_g = helper.make_graph([helper.make_node("Concat", ["x", "x"], ["e"], axis=0)], "else", [], [_f32("e", [4])])
    model = _model([helper.make_node("Loop", ["m", "", "x"], ["v", "scans"], body=body),
                    helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
                   [_f32("x", [2]), _scalar_info("m", TensorProto.INT64), _scalar_info("c", TensorProto.BOOL)],
                   [_f32("v", [2]), _f32("scans", [None, 2]), helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    with pytest.raises(UnsupportedOpsError) as info:
        import_onnx(model)
    text = str(info.value)
    assert "Loop" in text and "scan output" in text, text
    assert "If" in text and "then_branch" in text and "else_branch" in text, text


def test_cast_between_float32_int64_and_bool_uses_the_runtime_dtype_codes(tmp_path):
    # float32 -> int64 truncates toward zero; int64 -> bool is x != 0; bool -> float32 is 0 / 1.
    nodes = [helper.make_node("Cast", ["x"], ["i"], to=TensorProto.INT64),
             helper.make_node("Cast", ["i"], ["b"], to=TensorProto.BOOL),
             helper.make_node("Cast", ["b"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["i"], ["g"], to=TensorProto.FLOAT)]
    model = _model(nodes, [_f32("x", [6])], [helper.make_tensor_value_info("i", TensorProto.INT64, [6]),
                                              _f32("f", [6]), _f32("g", [6])])
    x = np.array([-2.7, -0.5, 0.0, 0.4, 1.0, 3.9], np.float32)
    got = _run(model, x, tmp_path=tmp_path)
    for g, e in zip(got, _reference(model, {"x": x})):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_if_and_loop_controls_of_shape_one_become_scalars(tmp_path):
    # ONNX allows any one-element cond / M; the runtime's if and loop take rank-0 values.
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_f32("t", [3])])
    else_g = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["e"])], "else", [], [_f32("e", [3])])
    body = helper.make_graph([helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                              helper.make_node("Add", ["v_in", "x"], ["v_out"])],
                             "body", [_scalar_info("i", TensorProto.INT64), _scalar_info("cond_in", TensorProto.BOOL),
                                      _f32("v_in", [3])],
                             [_scalar_info("cond_out", TensorProto.BOOL), _f32("v_out", [3])])
    model = _model([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
                    helper.make_node("Loop", ["m", "", "y"], ["z"], body=body)],
                   [_f32("x", [3]), helper.make_tensor_value_info("c", TensorProto.BOOL, [1]),
                    helper.make_tensor_value_info("m", TensorProto.INT64, [1])], [_f32("z", [3])])
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    for c, m in ((True, 0), (True, 3), (False, 1), (False, 4)):
        feeds = {"x": x, "c": np.array([c]), "m": np.array([m], np.int64)}
        # By hand (the Loop has no cond input, which onnx's reference evaluator mishandles).
        expected = (np.maximum(x, 0) if c else 1 / (1 + np.exp(-x))) + m * x
        np.testing.assert_allclose(_run(model, *feeds.values(), tmp_path=tmp_path)[0], expected, rtol=1e-6,
                                   err_msg=f"cond={c} M={m}")
