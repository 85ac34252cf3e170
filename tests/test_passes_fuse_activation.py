"""Golden and numerical tests of the fuse_activation pass.

fuse_activation: relu, relu6 then clamp (ranges intersected), relu after add (alpha -0.5), clamp(min) after
linear; not when the producer is also a graph output (conv3) or a graph input (rin).
"""

import math

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def act_case():
    g = GraphBuilder()
    x = g.input("x", 1, 3, 5, 5)
    c = g.conv(x, 4, name="conv")
    r = g.op("relu", c, name="r")
    c2 = g.conv(r, 4, name="conv2")
    h = g.op("hardtanh", c2, name="relu6", min_val=0.0, max_val=6.0)
    h2 = g.op("hardtanh", h, name="clamp", min_val=-1.0, max_val=3.0)
    a = g.op("add", h2, r, name="a", alpha=-0.5)
    ra = g.op("relu", a, name="ra")
    c3 = g.conv(ra, 4, name="conv3")
    r3 = g.op("relu", c3, name="r3")  # conv3 also feeds the output: not fused
    rin = g.op("relu", x, name="rin")  # a graph input has no producer
    p = g.op("adaptive_avg_pool2d", r3, name="p", output_size=[1, 1])
    f = g.op("flatten", p, name="f", start_dim=1, end_dim=3)
    l = g.op("linear", f, g.const("fc.weight", shape=(3, 4)), None, name="fc")
    y = g.op("hardtanh", l, name="y", min_val=-0.25, max_val=math.inf)
    return g.output(y, c3, rin)


BEFORE = """\
graph main(%x : f32[1,3,5,5]):
  %conv.weight : f32[4,3,3,3] = constant
  %conv.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %conv2.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %fc.weight : f32[3,4] = constant
  %conv : f32[1,4,5,5] = conv2d(%x, %conv.weight, %conv.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %r : f32[1,4,5,5] = relu(%conv)
  %conv2 : f32[1,4,5,5] = conv2d(%r, %conv2.weight, %conv2.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %relu6 : f32[1,4,5,5] = hardtanh(%conv2, min_val=0.0, max_val=6.0)
  %clamp : f32[1,4,5,5] = hardtanh(%relu6, min_val=-1.0, max_val=3.0)
  %a : f32[1,4,5,5] = add(%clamp, %r, alpha=-0.5)
  %ra : f32[1,4,5,5] = relu(%a)
  %conv3 : f32[1,4,5,5] = conv2d(%ra, %conv3.weight, %conv3.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %r3 : f32[1,4,5,5] = relu(%conv3)
  %rin : f32[1,3,5,5] = relu(%x)
  %p : f32[1,4,1,1] = adaptive_avg_pool2d(%r3, output_size=[1,1])
  %f : f32[1,4] = flatten(%p, start_dim=1, end_dim=3)
  %fc : f32[1,3] = linear(%f, %fc.weight, None)
  %y : f32[1,3] = hardtanh(%fc, min_val=-0.25, max_val=inf)
  return (%y, %conv3, %rin)
"""

AFTER = """\
graph main(%x : f32[1,3,5,5]):
  %conv.weight : f32[4,3,3,3] = constant
  %conv.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %conv2.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %fc.weight : f32[3,4] = constant
  %r : f32[1,4,5,5] = conv2d(%x, %conv.weight, %conv.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1, act_min=0.0, act_max=inf)
  %clamp : f32[1,4,5,5] = conv2d(%r, %conv2.weight, %conv2.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1, act_min=0.0, act_max=3.0)
  %ra : f32[1,4,5,5] = add(%clamp, %r, alpha=-0.5, act_min=0.0, act_max=inf)
  %conv3 : f32[1,4,5,5] = conv2d(%ra, %conv3.weight, %conv3.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %r3 : f32[1,4,5,5] = relu(%conv3)
  %rin : f32[1,3,5,5] = relu(%x)
  %p : f32[1,4,1,1] = adaptive_avg_pool2d(%r3, output_size=[1,1])
  %f : f32[1,4] = flatten(%p, start_dim=1, end_dim=3)
  %y : f32[1,3] = linear(%f, %fc.weight, None, act_min=-0.25, act_max=inf)
  return (%y, %conv3, %rin)
"""


def test_fuse_activation_golden():
    after = assert_golden(act_case, ["fuse_activation"], BEFORE, AFTER)
    assert after.op_histogram()["relu"] == 2


def test_fuse_activation_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(act_case, ["fuse_activation"], BEFORE, tmp_path)
