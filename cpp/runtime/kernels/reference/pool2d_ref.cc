#include "kernels/reference/pool2d_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace deployrt {

void f32_max_pool2d_ref(const Pool2dShape& s, const float* x, float* y, int64_t plane_begin,
                        int64_t plane_end) {
  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const float* in = x + plane * s.in_height * s.in_width;
    float* out = y + plane * s.out_height * s.out_width;
    for (int64_t oh = 0; oh < s.out_height; ++oh) {
      // Same window arithmetic as PyTorch's cpu_max_pool: clip the end to the input, then
      // step the start by whole dilations until it is inside.
      int64_t h_begin = oh * s.stride_h - s.pad_top;
      const int64_t h_end = std::min(h_begin + (s.kernel_h - 1) * s.dilation_h + 1, s.in_height);
      while (h_begin < 0) h_begin += s.dilation_h;
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        int64_t w_begin = ow * s.stride_w - s.pad_left;
        const int64_t w_end = std::min(w_begin + (s.kernel_w - 1) * s.dilation_w + 1, s.in_width);
        while (w_begin < 0) w_begin += s.dilation_w;
        float max_value = -std::numeric_limits<float>::infinity();
        for (int64_t ih = h_begin; ih < h_end; ih += s.dilation_h) {
          for (int64_t iw = w_begin; iw < w_end; iw += s.dilation_w) {
            const float v = in[ih * s.in_width + iw];
            if (v > max_value || std::isnan(v)) max_value = v;
          }
        }
        out[oh * s.out_width + ow] = max_value;
      }
    }
  }
}

void f32_avg_pool2d_ref(const Pool2dShape& s, bool count_include_pad, int64_t divisor_override,
                        const float* x, float* y, int64_t plane_begin, int64_t plane_end) {
  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const float* in = x + plane * s.in_height * s.in_width;
    float* out = y + plane * s.out_height * s.out_width;
    for (int64_t oh = 0; oh < s.out_height; ++oh) {
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        // PyTorch's avg_pool2d: the window is clipped to the padded input to get the
        // count_include_pad size (ceil_mode windows may hang past the padding), then to the
        // input itself for the sum.
        int64_t h_begin = oh * s.stride_h - s.pad_top;
        int64_t w_begin = ow * s.stride_w - s.pad_left;
        int64_t h_end = std::min(h_begin + s.kernel_h, s.in_height + s.pad_bottom);
        int64_t w_end = std::min(w_begin + s.kernel_w, s.in_width + s.pad_right);
        const int64_t padded_size = (h_end - h_begin) * (w_end - w_begin);
        h_begin = std::max<int64_t>(h_begin, 0);
        w_begin = std::max<int64_t>(w_begin, 0);
        h_end = std::min(h_end, s.in_height);
        w_end = std::min(w_end, s.in_width);
        float* dst = out + oh * s.out_width + ow;
        if (h_begin >= h_end || w_begin >= w_end) {
          *dst = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int64_t ih = h_begin; ih < h_end; ++ih) {
          for (int64_t iw = w_begin; iw < w_end; ++iw) sum += in[ih * s.in_width + iw];
        }
        const int64_t divisor = divisor_override != 0 ? divisor_override
                                : count_include_pad    ? padded_size
                                                       : (h_end - h_begin) * (w_end - w_begin);
        *dst = sum / static_cast<float>(divisor);
      }
    }
  }
}

namespace {
// PyTorch's adaptive pooling bounds, written to avoid overflowing i * size.
int64_t adaptive_start(int64_t i, int64_t out_size, int64_t in_size) {
  return (i / out_size) * in_size + ((i % out_size) * in_size) / out_size;
}
int64_t adaptive_end(int64_t i, int64_t out_size, int64_t in_size) {
  return 1 + ((i + 1) * in_size - 1) / out_size;
}
}  // namespace

void f32_adaptive_avg_pool2d_ref(const Pool2dShape& s, const float* x, float* y, int64_t plane_begin,
                                 int64_t plane_end) {
  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const float* in = x + plane * s.in_height * s.in_width;
    float* out = y + plane * s.out_height * s.out_width;
    for (int64_t oh = 0; oh < s.out_height; ++oh) {
      const int64_t h_begin = adaptive_start(oh, s.out_height, s.in_height);
      const int64_t h_end = adaptive_end(oh, s.out_height, s.in_height);
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        const int64_t w_begin = adaptive_start(ow, s.out_width, s.in_width);
        const int64_t w_end = adaptive_end(ow, s.out_width, s.in_width);
        float sum = 0.0f;
        for (int64_t ih = h_begin; ih < h_end; ++ih) {
          for (int64_t iw = w_begin; iw < w_end; ++iw) sum += in[ih * s.in_width + iw];
        }
        out[oh * s.out_width + ow] = sum / static_cast<float>((h_end - h_begin) * (w_end - w_begin));
      }
    }
  }
}

}  // namespace deployrt
