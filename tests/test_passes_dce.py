"""Golden and numerical tests of the dce pass.

dce: nodes and constants no output depends on are removed.
"""

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def dce_case():
    g = GraphBuilder()
    x = g.input("x", 1, 4)
    a = g.op("relu", x, name="a")
    d = g.op("sigmoid", x, name="dead")
    g.op("mul", d, g.const("c_dead", shape=(4,)), name="dead2")
    g.const("unused", shape=(2,))
    return g.output(a)


BEFORE = """\
graph main(%x : f32[1,4]):
  %c_dead : f32[4] = constant
  %unused : f32[2] = constant
  %a : f32[1,4] = relu(%x)
  %dead : f32[1,4] = sigmoid(%x)
  %dead2 : f32[1,4] = mul(%dead, %c_dead)
  return (%a)
"""

AFTER = """\
graph main(%x : f32[1,4]):
  %a : f32[1,4] = relu(%x)
  return (%a)
"""


def test_dce_golden():
    after = assert_golden(dce_case, ["dce"], BEFORE, AFTER)
    assert "c_dead" not in after.values and "unused" not in after.values


def test_dce_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(dce_case, ["dce"], BEFORE, tmp_path)
