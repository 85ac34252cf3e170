#include "kernels/reference/conv2d_ref.h"

#include <algorithm>

namespace deployrt {

namespace {

// Smallest o >= 0 with o*stride + offset >= 0, i.e. ceil(-offset / stride) clamped at 0.
int64_t first_valid_output(int64_t offset, int64_t stride) {
  if (offset >= 0) return 0;
  return (-offset + stride - 1) / stride;
}

// One past the largest o with o*stride + offset < limit (0 if none).
int64_t end_valid_output(int64_t offset, int64_t stride, int64_t limit) {
  if (offset >= limit) return 0;
  return (limit - offset + stride - 1) / stride;
}

// Adds weight * (one input plane, shifted by the tap (kh, kw)) into one output plane.
// The loop over output columns is innermost and contiguous in `out` (and in `in` when
// stride_w == 1) so the compiler vectorizes it.
void accumulate_tap(const Conv2dShape& s, const float* in_plane, float weight, int64_t kh, int64_t kw,
                    float* out_plane) {
  const int64_t row_offset = kh * s.dilation_h - s.pad_top;   // ih = oh*stride_h + row_offset
  const int64_t col_offset = kw * s.dilation_w - s.pad_left;  // iw = ow*stride_w + col_offset
  const int64_t oh_begin = first_valid_output(row_offset, s.stride_h);
  const int64_t oh_end = std::min(s.out_height, end_valid_output(row_offset, s.stride_h, s.in_height));
  const int64_t ow_begin = first_valid_output(col_offset, s.stride_w);
  const int64_t ow_end = std::min(s.out_width, end_valid_output(col_offset, s.stride_w, s.in_width));
  if (oh_begin >= oh_end || ow_begin >= ow_end) return;
  const int64_t count = ow_end - ow_begin;
  for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
    const int64_t ih = oh * s.stride_h + row_offset;
    const float* in_row = in_plane + ih * s.in_width + ow_begin * s.stride_w + col_offset;
    float* out_row = out_plane + oh * s.out_width + ow_begin;
    if (s.stride_w == 1) {
      for (int64_t i = 0; i < count; ++i) out_row[i] += weight * in_row[i];
    } else {
      const int64_t stride = s.stride_w;
      for (int64_t i = 0; i < count; ++i) out_row[i] += weight * in_row[i * stride];
    }
  }
}

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.out_height == s.in_height && s.out_width == s.in_width;
}

}  // namespace

void f32_conv2d_ref(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    const float* residual, Activation act, float* y, int64_t plane_begin, int64_t plane_end) {
  const int64_t ic_per_group = s.in_channels / s.groups;
  const int64_t oc_per_group = s.out_channels / s.groups;
  const int64_t in_plane_size = s.in_height * s.in_width;
  const int64_t out_plane_size = s.out_height * s.out_width;
  const int64_t taps = s.kernel_h * s.kernel_w;
  const bool pointwise = is_pointwise(s);

  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const int64_t n = plane / s.out_channels;
    const int64_t oc = plane % s.out_channels;
    const int64_t group = oc / oc_per_group;
    float* out = y + plane * out_plane_size;
    std::fill(out, out + out_plane_size, bias != nullptr ? bias[oc] : 0.0f);

    const float* in_group = x + (n * s.in_channels + group * ic_per_group) * in_plane_size;
    const float* w_oc = weight + oc * ic_per_group * taps;
    for (int64_t ic = 0; ic < ic_per_group; ++ic) {
      const float* in_plane = in_group + ic * in_plane_size;
      const float* w_ic = w_oc + ic * taps;
      if (pointwise) {
        // 1x1, stride 1, no padding: input and output planes line up element for element.
        const float w = w_ic[0];
        for (int64_t i = 0; i < out_plane_size; ++i) out[i] += w * in_plane[i];
        continue;
      }
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
          accumulate_tap(s, in_plane, w_ic[kh * s.kernel_w + kw], kh, kw, out);
        }
      }
    }
    if (residual != nullptr) {
      const float* r = residual + plane * out_plane_size;
      for (int64_t i = 0; i < out_plane_size; ++i) out[i] += r[i];
    }
    if (!act.is_identity()) {
      for (int64_t i = 0; i < out_plane_size; ++i) out[i] = clamp_keep_nan(out[i], act.min, act.max);
    }
  }
}

}  // namespace deployrt
