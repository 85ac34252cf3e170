"""constant_fold: nodes with only constant inputs are run by the C++ runtime and replaced by
their result; a fold that would store far more data than it removes is skipped."""

import numpy as np

from deploykit.passes.base import copy_graph
from deploykit.passes.constant_fold import MAX_GROWTH_ELEMENTS

from pass_testing import GraphBuilder, assert_equivalent, assert_golden, inputs_for, run_passes


def fold_case():
    g = GraphBuilder()
    x = g.input("x", 2, 3)
    c1 = g.const("c1", shape=(3,))
    c2 = g.const("c2", shape=(3,))
    m = g.op("mul", c1, c2, name="m")
    r = g.op("relu", m, name="r")
    big = g.op("add", g.const("col", shape=(1024, 1)), g.const("row", shape=(1, 1024)), name="big", alpha=1.0)
    y = g.op("add", x, r, name="y", alpha=1.0)
    s = g.op("mean", big, name="s", dims=[0, 1], keepdim=0)
    return g.output(y, s)


BEFORE = """\
graph main(%x : f32[2,3]):
  %c1 : f32[3] = constant
  %c2 : f32[3] = constant
  %col : f32[1024,1] = constant
  %row : f32[1,1024] = constant
  %m : f32[3] = mul(%c1, %c2)
  %r : f32[3] = relu(%m)
  %big : f32[1024,1024] = add(%col, %row, alpha=1.0)
  %y : f32[2,3] = add(%x, %r, alpha=1.0)
  %s : f32[] = mean(%big, dims=[0,1], keepdim=0)
  return (%y, %s)
"""

AFTER = """\
graph main(%x : f32[2,3]):
  %col : f32[1024,1] = constant
  %row : f32[1,1024] = constant
  %r : f32[3] = constant
  %big : f32[1024,1024] = add(%col, %row, alpha=1.0)
  %y : f32[2,3] = add(%x, %r, alpha=1.0)
  %s : f32[] = mean(%big, dims=[0,1], keepdim=0)
  return (%y, %s)
"""


def test_constant_fold_golden():
    after = assert_golden(fold_case, ["constant_fold", "dce"], BEFORE, AFTER)
    c1, c2 = fold_case().constants["c1"], fold_case().constants["c2"]
    np.testing.assert_array_equal(after.constants["r"], np.maximum(c1 * c2, 0))
    # 1M elements from 2048: over the growth limit, kept as a node.
    assert 1024 * 1024 > MAX_GROWTH_ELEMENTS


def test_constant_fold_numerically_equivalent(tmp_path):
    before = fold_case()
    after = run_passes(copy_graph(before), "constant_fold", "dce")
    assert_equivalent(before, after, inputs_for(before), tmp_path)
