"""Golden and numerical tests of the fuse_residual pass.

fuse_residual: conv + add(+relu) with the residual computed after the conv (moved to the add's place),
conv output as the add's second operand; not with alpha != 1 or a broadcasting add.
"""

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def residual_case():
    g = GraphBuilder()
    x = g.input("x", 1, 4, 5, 5)
    c1 = g.conv(x, 4, name="conv1")
    c2 = g.conv(c1, 4, name="conv2")
    d = g.conv(x, 4, name="down", kernel=1, pad=0)  # defined after conv2, as in BasicBlock
    s = g.op("add", c2, d, name="s", alpha=1.0)
    r = g.op("relu", s, name="r")
    c3 = g.conv(r, 4, name="conv3")
    t = g.op("add", r, c3, name="t", alpha=1.0)  # conv output second
    c4 = g.conv(t, 4, name="conv4")
    u = g.op("add", c4, t, name="u", alpha=2.0)  # alpha != 1: not fused
    c5 = g.conv(u, 4, name="conv5")
    v = g.op("add", c5, g.const("bias_row", shape=(5,)), name="v", alpha=1.0)  # broadcast: not fused
    return g.output(v)


BEFORE = """\
graph main(%x : f32[1,4,5,5]):
  %conv1.weight : f32[4,4,3,3] = constant
  %conv1.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %conv2.bias : f32[4] = constant
  %down.weight : f32[4,4,1,1] = constant
  %down.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %conv4.weight : f32[4,4,3,3] = constant
  %conv4.bias : f32[4] = constant
  %conv5.weight : f32[4,4,3,3] = constant
  %conv5.bias : f32[4] = constant
  %bias_row : f32[5] = constant
  %conv1 : f32[1,4,5,5] = conv2d(%x, %conv1.weight, %conv1.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %conv2 : f32[1,4,5,5] = conv2d(%conv1, %conv2.weight, %conv2.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %down : f32[1,4,5,5] = conv2d(%x, %down.weight, %down.bias, stride=[1,1], pads=[0,0,0,0], dilation=[1,1], groups=1)
  %s : f32[1,4,5,5] = add(%conv2, %down, alpha=1.0)
  %r : f32[1,4,5,5] = relu(%s)
  %conv3 : f32[1,4,5,5] = conv2d(%r, %conv3.weight, %conv3.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %t : f32[1,4,5,5] = add(%r, %conv3, alpha=1.0)
  %conv4 : f32[1,4,5,5] = conv2d(%t, %conv4.weight, %conv4.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %u : f32[1,4,5,5] = add(%conv4, %t, alpha=2.0)
  %conv5 : f32[1,4,5,5] = conv2d(%u, %conv5.weight, %conv5.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %v : f32[1,4,5,5] = add(%conv5, %bias_row, alpha=1.0)
  return (%v)
"""

AFTER = """\
graph main(%x : f32[1,4,5,5]):
  %conv1.weight : f32[4,4,3,3] = constant
  %conv1.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %conv2.bias : f32[4] = constant
  %down.weight : f32[4,4,1,1] = constant
  %down.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %conv4.weight : f32[4,4,3,3] = constant
  %conv4.bias : f32[4] = constant
  %conv5.weight : f32[4,4,3,3] = constant
  %conv5.bias : f32[4] = constant
  %bias_row : f32[5] = constant
  %conv1 : f32[1,4,5,5] = conv2d(%x, %conv1.weight, %conv1.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %down : f32[1,4,5,5] = conv2d(%x, %down.weight, %down.bias, stride=[1,1], pads=[0,0,0,0], dilation=[1,1], groups=1)
  %r : f32[1,4,5,5] = conv2d(%conv1, %conv2.weight, %conv2.bias, %down, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1, act_min=0.0, act_max=inf)
  %t : f32[1,4,5,5] = conv2d(%r, %conv3.weight, %conv3.bias, %r, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %conv4 : f32[1,4,5,5] = conv2d(%t, %conv4.weight, %conv4.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %u : f32[1,4,5,5] = add(%conv4, %t, alpha=2.0)
  %conv5 : f32[1,4,5,5] = conv2d(%u, %conv5.weight, %conv5.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %v : f32[1,4,5,5] = add(%conv5, %bias_row, alpha=1.0)
  return (%v)
"""


def test_fuse_residual_golden():
    after = assert_golden(residual_case, ["fuse_residual", "fuse_activation"], BEFORE, AFTER)
    assert after.op_histogram() == {"conv2d": 6, "add": 2}


def test_fuse_residual_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(residual_case, ["fuse_residual", "fuse_activation"], BEFORE, tmp_path)
