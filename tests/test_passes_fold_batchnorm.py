"""Golden and numerical tests of the fold_batchnorm pass.

fold_batchnorm: into conv2d with and without bias and into linear [N, C]; not when the conv output has
another reader (bn3). The fused nodes take over the batch_norm outputs' names.
"""

from pass_testing import GraphBuilder, assert_golden, assert_passes_preserve_results


def bn_case():
    g = GraphBuilder()
    x = g.input("x", 2, 3, 6, 6)
    c = g.conv(x, 4, name="conv1")
    b = g.batch_norm(c, name="bn1")
    r = g.op("relu", b, name="r")
    c2 = g.conv(r, 4, name="conv2", bias=False)
    b2 = g.batch_norm(c2, name="bn2")
    c3 = g.conv(b2, 4, name="conv3")
    b3 = g.batch_norm(c3, name="bn3")
    t = g.op("add", b3, c3, name="t", alpha=1.0)  # conv3 has 2 users: bn3 stays
    p = g.op("adaptive_avg_pool2d", t, name="p", output_size=[1, 1])
    f = g.op("flatten", p, name="f", start_dim=1, end_dim=3)
    l = g.op("linear", f, g.const("fc.weight", shape=(5, 4)), g.const("fc.bias", shape=(5,)), name="fc", module="fc")
    out = g.batch_norm(l, name="bn4")
    return g.output(out)


BEFORE = """\
graph main(%x : f32[2,3,6,6]):
  %conv1.weight : f32[4,3,3,3] = constant
  %conv1.bias : f32[4] = constant
  %bn1.running_mean : f32[4] = constant
  %bn1.running_var : f32[4] = constant
  %bn1.weight : f32[4] = constant
  %bn1.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %bn2.running_mean : f32[4] = constant
  %bn2.running_var : f32[4] = constant
  %bn2.weight : f32[4] = constant
  %bn2.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %bn3.running_mean : f32[4] = constant
  %bn3.running_var : f32[4] = constant
  %bn3.weight : f32[4] = constant
  %bn3.bias : f32[4] = constant
  %fc.weight : f32[5,4] = constant
  %fc.bias : f32[5] = constant
  %bn4.running_mean : f32[5] = constant
  %bn4.running_var : f32[5] = constant
  %bn4.weight : f32[5] = constant
  %bn4.bias : f32[5] = constant
  %conv1 : f32[2,4,6,6] = conv2d(%x, %conv1.weight, %conv1.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %bn1 : f32[2,4,6,6] = batch_norm(%conv1, %bn1.running_mean, %bn1.running_var, %bn1.weight, %bn1.bias, eps=1e-05)
  %r : f32[2,4,6,6] = relu(%bn1)
  %conv2 : f32[2,4,6,6] = conv2d(%r, %conv2.weight, None, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %bn2 : f32[2,4,6,6] = batch_norm(%conv2, %bn2.running_mean, %bn2.running_var, %bn2.weight, %bn2.bias, eps=1e-05)
  %conv3 : f32[2,4,6,6] = conv2d(%bn2, %conv3.weight, %conv3.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %bn3 : f32[2,4,6,6] = batch_norm(%conv3, %bn3.running_mean, %bn3.running_var, %bn3.weight, %bn3.bias, eps=1e-05)
  %t : f32[2,4,6,6] = add(%bn3, %conv3, alpha=1.0)
  %p : f32[2,4,1,1] = adaptive_avg_pool2d(%t, output_size=[1,1])
  %f : f32[2,4] = flatten(%p, start_dim=1, end_dim=3)
  %fc : f32[2,5] = linear(%f, %fc.weight, %fc.bias)
  %bn4 : f32[2,5] = batch_norm(%fc, %bn4.running_mean, %bn4.running_var, %bn4.weight, %bn4.bias, eps=1e-05)
  return (%bn4)
"""

AFTER = """\
graph main(%x : f32[2,3,6,6]):
  %conv1.weight : f32[4,3,3,3] = constant
  %conv1.bias : f32[4] = constant
  %conv2.weight : f32[4,4,3,3] = constant
  %bn2.bias : f32[4] = constant
  %conv3.weight : f32[4,4,3,3] = constant
  %conv3.bias : f32[4] = constant
  %bn3.running_mean : f32[4] = constant
  %bn3.running_var : f32[4] = constant
  %bn3.weight : f32[4] = constant
  %bn3.bias : f32[4] = constant
  %fc.weight : f32[5,4] = constant
  %fc.bias : f32[5] = constant
  %bn1 : f32[2,4,6,6] = conv2d(%x, %conv1.weight, %conv1.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %r : f32[2,4,6,6] = relu(%bn1)
  %bn2 : f32[2,4,6,6] = conv2d(%r, %conv2.weight, %bn2.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %conv3 : f32[2,4,6,6] = conv2d(%bn2, %conv3.weight, %conv3.bias, stride=[1,1], pads=[1,1,1,1], dilation=[1,1], groups=1)
  %bn3 : f32[2,4,6,6] = batch_norm(%conv3, %bn3.running_mean, %bn3.running_var, %bn3.weight, %bn3.bias, eps=1e-05)
  %t : f32[2,4,6,6] = add(%bn3, %conv3, alpha=1.0)
  %p : f32[2,4,1,1] = adaptive_avg_pool2d(%t, output_size=[1,1])
  %f : f32[2,4] = flatten(%p, start_dim=1, end_dim=3)
  %bn4 : f32[2,5] = linear(%f, %fc.weight, %fc.bias)
  return (%bn4)
"""


def test_fold_batchnorm_golden():
    after = assert_golden(bn_case, ["fold_batchnorm", "dce"], BEFORE, AFTER)
    assert after.op_histogram()["batch_norm"] == 1


def test_fold_batchnorm_numerically_equivalent(tmp_path):
    assert_passes_preserve_results(bn_case, ["fold_batchnorm", "dce"], BEFORE, tmp_path)
