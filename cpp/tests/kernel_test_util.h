// Helpers the microkernel tests share: the host's ISA, gtest parameters over a kernel's
// variant list, the 2-d window fields of a test case, whole packed weights from a panel-range
// packer, and the conv2d op end-to-end case (OpTester + reference) of the conv kernels.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/aligned_alloc.h"
#include "cpu/cpu_features.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops_test_util.h"

namespace deployrt {
namespace testing {

inline IsaLevel host_isa() { return isa_level_for(detect_cpu_features(), nullptr); }

/// How many variants a kernel's list (`const Variant* f32_..._variants(int* count)`) has.
template <class Variant>
int variant_count(const Variant* (*list)(int*)) {
  int count = 0;
  list(&count);
  return count;
}

/// Names parameterized tests after the variant at the parameter's index:
///   INSTANTIATE_TEST_SUITE_P(Variants, T, ::testing::Range(0, variant_count(list)), VariantName<V>{list});
template <class Variant>
struct VariantName {
  const Variant* (*list)(int*);
  std::string operator()(const ::testing::TestParamInfo<int>& info) const {
    int count = 0;
    return list(&count)[info.param].name;
  }
};

/// Fixture of a test parameterized over the indices of a kernel's variant list (`kList`,
/// instantiated with variant_count and VariantName above): variant() is the one under
/// test; one needing an ISA this host lacks is skipped.
template <class Variant, const Variant* (*kList)(int*)>
class VariantTest : public ::testing::TestWithParam<int> {
 protected:
  const Variant& variant() const {
    int count = 0;
    return kList(&count)[GetParam()];
  }
  void SetUp() override {
    if (static_cast<int>(variant().isa) > static_cast<int>(host_isa())) {
      GTEST_SKIP() << variant().name << " needs " << isa_name(variant().isa) << "; this host has "
                   << isa_name(host_isa());
    }
  }
};

/// Output extent of one dim of a 2-d window (PyTorch's conv / pool formula; ops/window2d.cc).
inline int64_t window_out_size(int64_t in, int64_t k, int64_t s, int64_t pad_begin, int64_t pad_end, int64_t d,
                               bool ceil_mode = false) {
  const int64_t numerator = in + pad_begin + pad_end - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t size = numerator / s + 1;
  if (ceil_mode && (size - 1) * s >= in + pad_begin) --size;  // the last window must start inside
  return size;
}

/// A Conv2dShape with its tensor dims set: batch n, C x H x W in, OC out (the window is the caller's).
inline Conv2dShape conv2d_io(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oc) {
  Conv2dShape s;
  s.batch = n;
  s.in_channels = c;
  s.in_height = h;
  s.in_width = w;
  s.out_channels = oc;
  return s;
}

/// Sets the window fields Conv2dShape and Pool2dShape share from a test case that names
/// them kh, kw, sh, sw, pt, pl, dh, dw.
template <class Shape, class Case>
void set_window(Shape* s, const Case& k) {
  s->kernel_h = k.kh;
  s->kernel_w = k.kw;
  s->stride_h = k.sh;
  s->stride_w = k.sw;
  s->pad_top = k.pt;
  s->pad_left = k.pl;
  s->dilation_h = k.dh;
  s->dilation_w = k.dw;
}

/// All `panels` panels of a kernel's weight packer (f32_conv_gemm_pack_weight_panels,
/// f32_winograd_pack_weight_panels) into one 64-byte aligned buffer of `floats`, in two
/// ranges as a load spreads them over threads. A test failure when out of memory.
template <class Plan>
AlignedBuffer pack_all_panels(void (*pack)(const Plan&, const float*, float*, int64_t, int64_t), const Plan& plan,
                              const float* weight, size_t floats, int64_t panels) {
  AlignedBuffer buffer(aligned_malloc_or_null(floats * sizeof(float)));
  if (!buffer) {
    ADD_FAILURE() << "out of memory packing " << floats << " floats";
    return buffer;
  }
  float* out = static_cast<float*>(buffer.get());
  pack(plan, weight, out, 0, panels / 2);
  pack(plan, weight, out, panels / 2, panels);
  return buffer;
}

/// The conv2d op on `s` with random input, weight, bias and residual and the clamp
/// epilogue [act_min, act_max], with what f32_conv2d_ref computes for it. pad_bottom and
/// pad_right are the op's (Conv2dShape only shows them in its output size).
struct ConvOpCase {
  std::vector<float> x, w, bias, residual, expected;
  OpTester op{OpKind::kConv2d};
};

inline ConvOpCase conv_op_case(const Conv2dShape& s, int64_t pad_bottom, int64_t pad_right, float act_min,
                               float act_max, bool constant_weights = true) {
  ConvOpCase c;
  const int64_t icg = s.in_channels / s.groups;
  c.x = random_values(s.batch * s.in_channels * s.in_height * s.in_width, 1);
  c.w = random_values(s.out_channels * icg * s.kernel_h * s.kernel_w, 2);
  c.bias = random_values(s.out_channels, 3);
  c.residual = random_values(s.batch * s.out_channels * s.out_height * s.out_width, 4);
  c.op.attr_ints("stride", {s.stride_h, s.stride_w}).attr_ints("pads", {s.pad_top, s.pad_left, pad_bottom, pad_right});
  c.op.attr_ints("dilation", {s.dilation_h, s.dilation_w}).attr_int("groups", s.groups);
  c.op.attr_float("act_min", act_min).attr_float("act_max", act_max);
  c.op.input({s.batch, s.in_channels, s.in_height, s.in_width}, c.x);
  c.op.input({s.out_channels, icg, s.kernel_h, s.kernel_w}, c.w, constant_weights).constant({s.out_channels}, c.bias);
  c.op.input({s.batch, s.out_channels, s.out_height, s.out_width}, c.residual);
  Activation act;
  act.min = act_min;
  act.max = act_max;
  c.expected.resize(c.residual.size());
  f32_conv2d_ref(s, c.x.data(), c.w.data(), c.bias.data(), c.residual.data(), act, c.expected.data(), 0,
                 s.batch * s.out_channels);
  return c;
}

}  // namespace testing
}  // namespace deployrt
