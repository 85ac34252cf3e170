// Lane helpers of the AVX-512 2-d window kernels (f32-pool/avx512.cc, f32-dwconv/avx512.cc):
// 16 output columns per zmm. Include only from translation units compiled with the AVX-512
// flags. The unnamed namespace gives every includer its own copy, compiled with its own
// flags, so the linker can never pick another file's (differently compiled) definition.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/window2d/columns.h"

namespace deployrt {
namespace {

constexpr int kLanes = 16;

// Lane t: t * stride (the gather indices of a vector of output columns).
inline __m512i lane_offsets(int64_t stride) {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(static_cast<int32_t>(stride)));
}

// Lane t: the input column (ow + t) * stride - pad_left that tap 0 reads (tap kw adds kw * dilation).
inline __m512i lane_columns(int64_t ow, int64_t stride, int64_t pad_left) {
  return _mm512_add_epi32(lane_offsets(stride), _mm512_set1_epi32(static_cast<int32_t>(ow * stride - pad_left)));
}

// The lanes of `active` whose input column idx is inside the row [0, width).
inline __mmask16 lanes_inside(__m512i idx, __m512i width, __mmask16 active) {
  return _mm512_mask_cmplt_epi32_mask(_mm512_mask_cmpge_epi32_mask(active, idx, _mm512_setzero_si512()), idx, width);
}

// S = 1: unit stride; S = 2: stride 2; S = 0: any stride (gather, indices `gather`).
template <int S>
inline __m512 load_lanes(const float* p, __m512i gather) {
  if (S == 1) return _mm512_loadu_ps(p);
  if (S == 2) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + kLanes));
  }
  return _mm512_i32gather_ps(gather, p, 4);
}

}  // namespace
}  // namespace deployrt
#endif  // __x86_64__
