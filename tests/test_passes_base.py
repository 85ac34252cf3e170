"""The pass contract: PassManager verifies between passes, checks requires/ensures and the
in-place declaration, names the pass history on failure, and prints after every pass."""

import pytest

from deploykit.errors import ExportError
from deploykit.ir.graph import Graph
from deploykit.passes import DEFAULT_PIPELINE, PASSES, PassManager, make_passes, optimize
from deploykit.passes.base import Pass, PassError, PassResult, copy_graph

from pass_testing import GraphBuilder, text


def small_graph():
    g = GraphBuilder()
    x = g.input("x", 1, 2, 4, 4)
    c = g.conv(x, 2, name="conv")
    r = g.op("relu", c, name="r")
    return g.output(r)


class BreaksShapes(Pass):
    name = "breaks_shapes"

    def run(self, graph):
        graph.nodes[0].outputs[0].shape = (1, 2, 3, 3)  # a lie the verifier must catch
        return PassResult(graph, True)


class Raises(Pass):
    name = "raises"

    def run(self, graph):
        raise RuntimeError("boom")


class ClaimsFunctionalButMutates(Pass):
    name = "sneaky"
    in_place = False

    def run(self, graph):
        graph.nodes[0].attrs["groups"] = 1  # same value: still a mutation of the input object
        graph.nodes[0].source = "changed"
        return PassResult(graph, True)


class ReturnsCopy(Pass):
    name = "copies"
    in_place = True

    def run(self, graph):
        return PassResult(copy_graph(graph), False)


def test_verifier_failure_names_the_pass_and_history():
    manager = PassManager(make_passes(["inline", "dce"]) + [BreaksShapes()], verify=True)
    with pytest.raises(PassError) as info:
        manager.run(small_graph())
    message = str(info.value)
    assert "pass 'breaks_shapes' failed: left an invalid graph" in message
    assert "shape inference gives [1,2,4,4]" in message
    assert "[passes run before it: inline -> dce]" in message
    assert info.value.history == ["inline", "dce"] and info.value.pass_name == "breaks_shapes"
    assert isinstance(info.value, ExportError)


def test_exceptions_in_a_pass_are_reraised_with_history():
    with pytest.raises(PassError, match=r"pass 'raises' failed: RuntimeError: boom \[passes run before it: dce\]"):
        PassManager(make_passes(["dce"]) + [Raises()]).run(small_graph())


def test_in_place_declarations_are_checked():
    with pytest.raises(PassError, match="declared functional .* but modified its input graph"):
        PassManager([ClaimsFunctionalButMutates()], verify=True).run(small_graph())
    with pytest.raises(PassError, match="declared in_place but returned a different graph object"):
        PassManager([ReturnsCopy()], verify=True).run(small_graph())


def test_requires_and_ensures_are_checked():
    class NeedsNoDeadCode(Pass):
        name = "needs_dce"
        requires = frozenset({"no_dead_code"})

        def run(self, graph):
            return PassResult(graph, False)

    class ClaimsNoBatchNorm(Pass):
        name = "liar"
        ensures = frozenset({"no_foldable_batch_norm"})

        def run(self, graph):
            return PassResult(graph, False)

    g = GraphBuilder()
    x = g.input("x", 1, 2, 4, 4)
    g.op("sigmoid", x, name="dead")
    b = g.batch_norm(g.conv(x, 2, name="conv"), name="bn")
    graph = g.output(b)
    with pytest.raises(PassError, match="requires 'no_dead_code' but node sigmoid -> %dead is dead"):
        PassManager([NeedsNoDeadCode()], verify=True).run(copy_graph(graph))
    PassManager(make_passes(["dce"]) + [NeedsNoDeadCode()], verify=True).run(copy_graph(graph))
    with pytest.raises(PassError, match="ensures 'no_foldable_batch_norm' but batch_norm -> %bn can still be folded"):
        PassManager([ClaimsNoBatchNorm()], verify=True).run(copy_graph(graph))
    with pytest.raises(ValueError, match="unknown properties: nonsense"):
        class Bad(Pass):
            name = "bad"
            ensures = frozenset({"nonsense"})
        PassManager([Bad()])


def test_invalid_input_graph_is_reported_before_any_pass():
    graph = small_graph()
    graph.outputs = []
    with pytest.raises(PassError, match="the input graph is invalid before any pass ran: .*no outputs"):
        PassManager(make_passes(["dce"]), verify=True).run(graph)


def test_print_after_all():
    printed = []
    optimize(small_graph(), ["dce", "fuse_activation"], print_after_all=True, printer=printed.append)
    assert printed[0].startswith("// after dce (unchanged)\ngraph main(")
    assert printed[1].startswith("// after fuse_activation\ngraph main(")
    assert "act_min=0.0, act_max=inf" in printed[1] and "relu" not in printed[1]


def test_every_pass_is_registered_and_unknown_names_fail():
    assert set(DEFAULT_PIPELINE) == set(PASSES)
    for name, cls in PASSES.items():
        assert cls.name == name and cls.description
    with pytest.raises(ExportError, match="unknown pass 'fuse_everything'; available: inline, "):
        make_passes(["dce", "fuse_everything"])


def test_default_pipeline_is_verified_on_a_graph_with_every_pattern():
    g = GraphBuilder()
    x = g.input("x", 1, 3, 6, 6)
    c = g.batch_norm(g.conv(x, 4, name="conv1"), name="bn1")
    r = g.op("relu", g.op("reshape", c, name="same", shape=[1, 4, 6, 6]), name="r")
    y = g.op("relu", g.op("add", g.batch_norm(g.conv(r, 4, name="conv2"), name="bn2"), r, name="s", alpha=1.0),
             name="y")
    graph = g.output(y)
    after = PassManager(make_passes(DEFAULT_PIPELINE), verify=True).run(copy_graph(graph))
    assert [n.op for n in after.nodes] == ["conv2d", "conv2d"]
    assert "conv2d(%r, %conv2.weight, %conv2.bias, %r, " in text(after)


def test_copy_graph_is_independent_but_shares_weights():
    graph = small_graph()
    clone = copy_graph(graph)
    clone.nodes[0].attrs["groups"] = 7
    assert graph.nodes[0].attrs["groups"] == 1
    assert clone.constants["conv.weight"] is graph.constants["conv.weight"]
    assert isinstance(clone, Graph) and text(clone).replace("groups=7", "groups=1") == text(graph)
