// The SIMD max-pool kernels' path for windows 2 or 3 columns wide at column stride 2 and
// dilation 1 (ResNet's 3x3 stride 2 stem pool, 2x2 stride 2 pools), any rows geometry:
// a max pool is separable, so each input row is reduced once along the width into a
// horizontal-max row (kept in a small ring in L1), and each output row is the max of its
// window's horizontal-max rows. An input row serves every output row whose window holds it
// (two for a 3-row window at stride 2), where the generic path re-reads it per output row
// and per tap.
//
// Bit-exactness with the reference: the reference takes taps in (kh, kw) order and keeps
// the earlier tap on ties (v > acc). Each row's max keeps its first maximum column, and the
// max over rows keeps the first row holding the overall maximum, so the result is the first
// maximum tap in (kh, kw) order as in the reference, signed zeros included. Padding reads
// -inf, which never wins and equals the reference's "no tap" -inf. NaN: the fast row pass
// only detects a NaN among the columns it reads; a row with one is recomputed with
// per-lane NaN tracking, and an output row reading such a row takes the NaN-tracking max.
//
// Portable driver, included by the SIMD translation units: the unnamed namespace gives each
// its own copy, compiled with its own flags.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/reference/pool2d_ref.h"

namespace deployrt {
namespace {

// Output columns per pass (horizontal-max rows are this wide) and ring slots.
constexpr int64_t kRowsChunk = 128;
constexpr int64_t kRowsSlots = 8;

/// Whether the row path applies: window width 2 or 3, column stride 2, column dilation 1,
/// and a window whose row span fits the ring.
inline bool stride2_rows_fit(const Pool2dShape& s) {
  if (s.stride_w != 2 || s.dilation_w != 1 || (s.kernel_w != 2 && s.kernel_w != 3)) return false;
  if (s.pad_left < 0 || s.pad_left > 1) return false;  // PyTorch allows at most kernel_w / 2
  if (s.kernel_h < 1 || s.dilation_h < 1 || s.kernel_h > kRowsSlots) return false;
  return (s.kernel_h - 1) * s.dilation_h + 1 <= kRowsSlots;
}

/// Runs the row path on one plane, window width K. `Isa` supplies
///   template <int K> struct Columns { Columns(int64_t in_width, int64_t col0, int64_t pad_left,
///       int64_t count); template <bool kNan> bool horizontal(const float* row, float* h) const; }
///     The column plan of one pass (which loads need lane masks, worked out once per pass
///     rather than per row); horizontal sets h[t] = max of row[col0 + 2t - pad_left + k],
///     k in [0, K), over the columns inside the row (-inf when none), t in [0, count), and
///     returns whether it read a NaN (then the caller reruns it with kNan = true, which
///     propagates them; kNan = false does not).
///   template <bool kNan> static void vertical(const float* const* rows, int64_t n,
///       int64_t count, float* out)
///     out[t] = max over rows[0..n) of rows[r][t] in row order (-inf when n == 0).
template <class Isa, int K>
void max_pool_stride2_rows(const Pool2dShape& s, const float* x, float* y) {
  alignas(64) float ring[kRowsSlots][kRowsChunk];
  // Input row ih lives in slot ih % kRowsSlots: the rows one output row reads lie within
  // kRowsSlots consecutive rows, and rows are needed in increasing order, so a slot is
  // only overwritten once no later output row needs its row.
  static_assert((kRowsSlots & (kRowsSlots - 1)) == 0, "the slot is a mask of the row index");
  for (int64_t ow0 = 0; ow0 < s.out_width; ow0 += kRowsChunk) {
    const int64_t count = std::min(kRowsChunk, s.out_width - ow0);
    const typename Isa::template Columns<K> columns(s.in_width, ow0 * 2, s.pad_left, count);
    int64_t held[kRowsSlots];
    bool has_nan[kRowsSlots];
    std::fill(held, held + kRowsSlots, int64_t{-1});
    std::fill(has_nan, has_nan + kRowsSlots, false);
    for (int64_t oh = 0; oh < s.out_height; ++oh) {
      const float* rows[kRowsSlots];
      int64_t n = 0;
      bool any_nan = false;
      for (int64_t kh = 0; kh < s.kernel_h; ++kh) {
        const int64_t ih = oh * s.stride_h - s.pad_top + kh * s.dilation_h;
        if (ih < 0 || ih >= s.in_height) continue;
        const int64_t slot = ih & (kRowsSlots - 1);
        float* h = ring[slot];
        if (held[slot] != ih) {
          const float* in_row = x + ih * s.in_width;
          const bool nan = columns.template horizontal<false>(in_row, h);
          if (nan) columns.template horizontal<true>(in_row, h);
          held[slot] = ih;
          has_nan[slot] = nan;
        }
        rows[n++] = h;
        any_nan = any_nan || has_nan[slot];
      }
      float* out = y + oh * s.out_width + ow0;
      if (any_nan) {
        Isa::template vertical<true>(rows, n, count, out);
      } else {
        Isa::template vertical<false>(rows, n, count, out);
      }
    }
  }
}

/// The row path for a shape that passes stride2_rows_fit.
template <class Isa>
void max_pool_stride2_rows(const Pool2dShape& s, const float* x, float* y) {
  if (s.kernel_w == 3) {
    max_pool_stride2_rows<Isa, 3>(s, x, y);
  } else {
    max_pool_stride2_rows<Isa, 2>(s, x, y);
  }
}

}  // namespace
}  // namespace deployrt
