"""Golden and numerical tests of the cse pass.

cse: equal constants merged, then equal nodes (chains collapse in one sweep).
"""

import numpy as np

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def cse_case():
    g = GraphBuilder()
    x = g.input("x", 1, 2, 4, 4)
    w = np.random.default_rng(3).uniform(-1, 1, (2, 2, 1, 1)).astype(np.float32)
    a = g.op("conv2d", x, g.const("w1", w), None, name="a", stride=[1, 1], pads=[0, 0, 0, 0], dilation=[1, 1], groups=1)
    b = g.op("conv2d", x, g.const("w2", w.copy()), None, name="b", stride=[1, 1], pads=[0, 0, 0, 0], dilation=[1, 1], groups=1)
    s = g.op("add", a, b, name="s", alpha=1.0)
    r1 = g.op("relu", s, name="r1")
    r2 = g.op("relu", s, name="r2")
    y = g.op("mul", r1, r2, name="y")
    return g.output(y)


BEFORE = """\
graph main(%x : f32[1,2,4,4]):
  %w1 : f32[2,2,1,1] = constant
  %w2 : f32[2,2,1,1] = constant
  %a : f32[1,2,4,4] = conv2d(%x, %w1, None, stride=[1,1], pads=[0,0,0,0], dilation=[1,1], groups=1)
  %b : f32[1,2,4,4] = conv2d(%x, %w2, None, stride=[1,1], pads=[0,0,0,0], dilation=[1,1], groups=1)
  %s : f32[1,2,4,4] = add(%a, %b, alpha=1.0)
  %r1 : f32[1,2,4,4] = relu(%s)
  %r2 : f32[1,2,4,4] = relu(%s)
  %y : f32[1,2,4,4] = mul(%r1, %r2)
  return (%y)
"""

AFTER = """\
graph main(%x : f32[1,2,4,4]):
  %w1 : f32[2,2,1,1] = constant
  %a : f32[1,2,4,4] = conv2d(%x, %w1, None, stride=[1,1], pads=[0,0,0,0], dilation=[1,1], groups=1)
  %s : f32[1,2,4,4] = add(%a, %a, alpha=1.0)
  %r1 : f32[1,2,4,4] = relu(%s)
  %y : f32[1,2,4,4] = mul(%r1, %r1)
  return (%y)
"""


def test_cse_golden():
    after = assert_golden(cse_case, ["cse", "dce"], BEFORE, AFTER)
    assert len(after.constants) == 1


def test_cse_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(cse_case, ["cse", "dce"], BEFORE, tmp_path)
