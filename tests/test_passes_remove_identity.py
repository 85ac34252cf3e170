"""Golden and numerical tests of the remove_identity pass.

remove_identity: no-op reshape/clamp/mul 1/add 0/1x1 pool removed; a graph output is adopted by its producer;
an add of zero that broadcasts to a new shape stays.
"""

import math
import numpy as np

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def identity_case():
    g = GraphBuilder()
    x = g.input("x", 2, 3, 4, 4)
    r = g.op("reshape", x, name="r", shape=[2, 3, 4, 4])
    h = g.op("hardtanh", r, name="h", min_val=-math.inf, max_val=math.inf)
    s = g.op("sigmoid", h, name="s")
    m = g.op("mul", s, g.const("ones", np.ones((1, 3, 1, 1))), name="m")
    a = g.op("add", m, g.const("zeros", np.zeros((4,))), name="a", alpha=2.0)
    p = g.op("max_pool2d", a, name="p", kernel=[1, 1], stride=[1, 1], pads=[0, 0, 0, 0], dilation=[1, 1], ceil_mode=0)
    k = g.op("relu", p, name="k")
    f = g.op("flatten", k, name="out", start_dim=1, end_dim=1)
    b = g.op("add", x, g.const("zeros4", np.zeros((1, 1, 1, 1, 1))), name="broadcasting", alpha=1.0)
    return g.output(f, b)


BEFORE = """\
graph main(%x : f32[2,3,4,4]):
  %ones : f32[1,3,1,1] = constant
  %zeros : f32[4] = constant
  %zeros4 : f32[1,1,1,1,1] = constant
  %r : f32[2,3,4,4] = reshape(%x, shape=[2,3,4,4])
  %h : f32[2,3,4,4] = hardtanh(%r, min_val=-inf, max_val=inf)
  %s : f32[2,3,4,4] = sigmoid(%h)
  %m : f32[2,3,4,4] = mul(%s, %ones)
  %a : f32[2,3,4,4] = add(%m, %zeros, alpha=2.0)
  %p : f32[2,3,4,4] = max_pool2d(%a, kernel=[1,1], stride=[1,1], pads=[0,0,0,0], dilation=[1,1], ceil_mode=0)
  %k : f32[2,3,4,4] = relu(%p)
  %out : f32[2,3,4,4] = flatten(%k, start_dim=1, end_dim=1)
  %broadcasting : f32[1,2,3,4,4] = add(%x, %zeros4, alpha=1.0)
  return (%out, %broadcasting)
"""

AFTER = """\
graph main(%x : f32[2,3,4,4]):
  %zeros4 : f32[1,1,1,1,1] = constant
  %s : f32[2,3,4,4] = sigmoid(%x)
  %out : f32[2,3,4,4] = relu(%s)
  %broadcasting : f32[1,2,3,4,4] = add(%x, %zeros4, alpha=1.0)
  return (%out, %broadcasting)
"""


def test_remove_identity_golden():
    after = assert_golden(identity_case, ["remove_identity", "dce"], BEFORE, AFTER)
    assert [v.name for v in after.outputs] == ["out", "broadcasting"]


def test_remove_identity_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(identity_case, ["remove_identity", "dce"], BEFORE, tmp_path)
