#include "kernels/f32-conv/im2col.h"

#include <algorithm>
#include <cstring>

namespace deployrt {

namespace {

bool is_pointwise(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.out_height == s.in_height && s.out_width == s.in_width;
}

// A run of a panel's columns that share an output row: panel columns [j, j + count) are
// output pixels (oh, ow .. ow + count - 1).
struct Run {
  int64_t oh, ow;
  int j, count;
};

// Where one run reads for one tap column kw: positions [lo, hi) of the run read input
// columns iw0 + t * stride_w inside the row; the rest read padding (zero).
struct RunTap {
  int64_t iw0;
  int lo, hi;
};

// Bounds of the per-panel tables below (stack arrays: kernels never allocate). A panel
// has at most nr_pack runs; shapes that need more tap entries take the general path.
constexpr int kMaxRuns = 64;
constexpr int kMaxRunTaps = 1024;

// The general walk: recomputes each run's bounds per im2col row. For panels whose tables
// would not fit the stack arrays (very wide kernels over very narrow outputs).
void im2col_general(const Conv2dShape& s, const float* x_group, int64_t col0, int nr_pack, int valid, float* out) {
  const int64_t cpg = s.in_channels / s.groups;
  const int64_t plane = s.in_height * s.in_width;
  const int64_t oh0 = col0 / s.out_width, ow0 = col0 % s.out_width;
  float* dst = out;
  for (int64_t c = 0; c < cpg; ++c) {
    const float* in = x_group + c * plane;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
        int64_t oh = oh0, ow = ow0;
        int j = 0;
        while (j < valid) {
          const int run = static_cast<int>(std::min<int64_t>(valid - j, s.out_width - ow));
          const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
          float* d = dst + j;
          for (int t = 0; t < run; ++t) {
            const int64_t iw = (ow + t) * s.stride_w - s.pad_left + kw * s.dilation_w;
            d[t] = ih >= 0 && ih < s.in_height && iw >= 0 && iw < s.in_width ? in[ih * s.in_width + iw] : 0.0f;
          }
          j += run;
          ow = 0;
          ++oh;
        }
        std::fill(dst + valid, dst + nr_pack, 0.0f);
        dst += nr_pack;
      }
    }
  }
}

}  // namespace

void f32_im2col_panel(const Conv2dShape& s, const float* x_group, int64_t col0, int nr_pack, float* out) {
  const int64_t cpg = s.in_channels / s.groups;
  const int64_t plane = s.in_height * s.in_width;
  const int64_t cols = s.out_height * s.out_width;
  const int valid = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(nr_pack, cols - col0)));
  if (is_pointwise(s)) {
    // Column p of row c is x[c, p]: a copy of each row's slice.
    for (int64_t c = 0; c < cpg; ++c) {
      float* dst = out + c * nr_pack;
      std::memcpy(dst, x_group + c * plane + col0, static_cast<size_t>(valid) * sizeof(float));
      std::fill(dst + valid, dst + nr_pack, 0.0f);
    }
    return;
  }
  // The panel's columns split into runs sharing an output row. Which positions of a run
  // read inside the input row depends only on (run, kw), so it is worked out once per
  // panel (the divisions included) instead of once per im2col row (c, kh, kw).
  Run runs[kMaxRuns];
  int num_runs = 0;
  for (int64_t oh = col0 / s.out_width, ow = col0 % s.out_width, j = 0; j < valid; ow = 0, ++oh) {
    const int count = static_cast<int>(std::min<int64_t>(valid - j, s.out_width - ow));
    if (num_runs == kMaxRuns) return im2col_general(s, x_group, col0, nr_pack, valid, out);
    runs[num_runs++] = {oh, ow, static_cast<int>(j), count};
    j += count;
  }
  if (num_runs * s.kernel_w > kMaxRunTaps) return im2col_general(s, x_group, col0, nr_pack, valid, out);
  RunTap taps[kMaxRunTaps];
  for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
    for (int r = 0; r < num_runs; ++r) {
      const int64_t iw0 = runs[r].ow * s.stride_w - s.pad_left + kw * s.dilation_w;
      const int64_t lo = std::min<int64_t>(runs[r].count, iw0 >= 0 ? 0 : (-iw0 + s.stride_w - 1) / s.stride_w);
      const int64_t end = iw0 >= s.in_width ? 0 : (s.in_width - iw0 + s.stride_w - 1) / s.stride_w;
      const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(runs[r].count, end));
      taps[kw * num_runs + r] = {iw0, static_cast<int>(lo), static_cast<int>(hi)};
    }
  }
  const int64_t stride = s.stride_w;
  float* dst = out;
  for (int64_t c = 0; c < cpg; ++c) {
    const float* in = x_group + c * plane;
    for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < s.kernel_w; ++kw) {
        const RunTap* tap = taps + kw * num_runs;
        for (int r = 0; r < num_runs; ++r) {
          float* d = dst + runs[r].j;
          const int count = runs[r].count;
          const int64_t ih = runs[r].oh * s.stride_h - s.pad_top + kh * s.dilation_h;
          if (ih < 0 || ih >= s.in_height) {
            for (int t = 0; t < count; ++t) d[t] = 0.0f;
            continue;
          }
          const int lo = tap[r].lo, hi = tap[r].hi;
          // Positions [lo, hi) are inside the row, so row + t * stride is too.
          const float* row = in + ih * s.in_width + tap[r].iw0;
          for (int t = 0; t < lo; ++t) d[t] = 0.0f;
          if (stride == 1) {
            for (int t = lo; t < hi; ++t) d[t] = row[t];
          } else if (stride == 2) {
            for (int t = lo; t < hi; ++t) d[t] = row[2 * t];
          } else {
            for (int t = lo; t < hi; ++t) d[t] = row[t * stride];
          }
          for (int t = hi; t < count; ++t) d[t] = 0.0f;
        }
        for (int t = valid; t < nr_pack; ++t) dst[t] = 0.0f;
        dst += nr_pack;
      }
    }
  }
}

}  // namespace deployrt
