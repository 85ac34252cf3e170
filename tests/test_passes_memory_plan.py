"""memory_plan: the Python arena plan is the C++ runtime's (same offsets, same size)."""

import numpy as np

import deploykit
from deploykit.archive.writer import write
from deploykit.passes import PassManager, make_passes
from deploykit.passes.memory_plan import ALIGNMENT, plan_memory

from pass_testing import GraphBuilder, assert_equivalent, inputs_for, run_passes, text


def chain_case():
    g = GraphBuilder()
    x = g.input("x", 1, 8, 8, 8)  # 2048 bytes per activation
    a = g.op("relu", x, name="a")
    b = g.op("sigmoid", a, name="b")
    c = g.op("add", a, b, name="c", alpha=1.0)  # a stays live until here
    d = g.op("max_pool2d", c, name="d", kernel=[2, 2], stride=[2, 2], pads=[0, 0, 0, 0], dilation=[1, 1],
             ceil_mode=0)  # 512 bytes
    e = g.op("relu", d, name="e")
    f = g.op("mul", e, e, name="f")
    return g.output(f, c)  # outputs: written in place, not in the arena


def test_plan_golden_offsets():
    plan = plan_memory(chain_case())
    rows = [(b.value, b.bytes, b.first, b.last, b.offset) for b in plan.buffers]
    # c and f are graph outputs: the runtime writes them straight into the caller's
    # output buffers, so they take no arena bytes.
    assert rows == [
        ("a", 2048, 0, 2, 0),
        ("b", 2048, 1, 2, 2048),
        ("d", 512, 3, 4, 0),  # a and b are free again: d takes the start of their block
        ("e", 512, 4, 5, 512),
    ]
    assert plan.activation_bytes == 4096 and plan.naive_bytes == 5120
    plan.check()


def test_pass_is_an_analysis_and_matches_the_runtime(tmp_path):
    graph = chain_case()
    before = text(graph)
    manager = PassManager(make_passes(["memory_plan"]), verify=True)
    after = manager.run(graph)
    assert after is graph and text(after) == before
    info = manager.analyses["memory_plan"]
    assert info["activation_bytes"] == 4096
    # None of these kernels needs scratch memory, so the runtime's arena is exactly the plan.
    write(graph, str(tmp_path / "chain.dkr"))
    assert deploykit.load(str(tmp_path / "chain.dkr"), num_threads=1).arena_bytes == 4096
    assert_equivalent(graph, run_passes(graph, "memory_plan"), inputs_for(graph), tmp_path)


def test_resnet18_plan_matches_the_runtime(resnet_archives):
    from deploykit.archive.reader import read_graph

    case = resnet_archives.get("resnet18", 1)
    graph = read_graph(case.archive)
    plan = plan_memory(graph)
    plan.check()
    assert plan.activation_bytes >= plan.peak_live_bytes() and plan.activation_bytes < plan.naive_bytes
    runtime = deploykit.load(str(case.archive), num_threads=1).arena_bytes
    # arena_bytes = activations + one 64-byte aligned kernel scratch area (only the runtime knows
    # its size); the activation part is the Python plan exactly.
    scratch = runtime - plan.activation_bytes
    assert scratch >= 0 and scratch % ALIGNMENT == 0, (runtime, plan.activation_bytes)
    largest_activation = max(v.numel * 4 for n in graph.nodes for v in n.outputs)
    assert scratch <= 4 * largest_activation, (runtime, plan.activation_bytes)


def test_plan_never_overlaps_live_buffers():
    rng = np.random.default_rng(5)
    for trial in range(20):
        g = GraphBuilder(seed=trial)
        x = g.input("x", 1, 4, 6, 6)
        values = [x]
        for i in range(12):
            a = values[int(rng.integers(len(values)))]
            if rng.random() < 0.5:
                values.append(g.op("relu", a, name=f"n{i}"))
            else:
                b = values[int(rng.integers(len(values)))]
                values.append(g.op("add", a, b, name=f"n{i}", alpha=1.0))
        plan = plan_memory(g.output(values[-1]))
        plan.check()
