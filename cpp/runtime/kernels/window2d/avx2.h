// Lane helpers of the AVX2 2-d window kernels (f32-pool/avx2.cc, f32-dwconv/avx2.cc): 8
// output columns per ymm. Include only from translation units compiled with -mavx2 -mfma.
// The unnamed namespace gives every includer its own copy, compiled with its own flags, so
// the linker can never pick another file's (differently compiled) definition.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "kernels/window2d/columns.h"

namespace deployrt {
namespace {

constexpr int kLanes = 8;

inline __m256i iota() { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }

// Lane t: t * stride (the gather indices of a vector of output columns).
inline __m256i lane_offsets(int64_t stride) {
  return _mm256_mullo_epi32(iota(), _mm256_set1_epi32(static_cast<int32_t>(stride)));
}

// Lane t: the input column (ow + t) * stride - pad_left that tap 0 reads (tap kw adds kw * dilation).
inline __m256i lane_columns(int64_t ow, int64_t stride, int64_t pad_left) {
  return _mm256_add_epi32(lane_offsets(stride), _mm256_set1_epi32(static_cast<int32_t>(ow * stride - pad_left)));
}

// The lanes of `active` whose input column idx is inside the row [0, width).
inline __m256i lanes_inside(__m256i idx, __m256i width, __m256i active) {
  const __m256i minus_one = _mm256_set1_epi32(-1);
  return _mm256_and_si256(active, _mm256_and_si256(_mm256_cmpgt_epi32(idx, minus_one), _mm256_cmpgt_epi32(width, idx)));
}

// S = 1: unit stride; S = 2: stride 2; S = 0: any stride (gather, indices `gather`).
template <int S>
inline __m256 load_lanes(const float* p, __m256i gather) {
  if (S == 1) return _mm256_loadu_ps(p);
  if (S == 2) {
    // [a0 a2 b0 b2 | a4 a6 b4 b6], then reorder the 64-bit pairs to a0 a2 a4 a6 b0 b2 b4 b6.
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + kLanes);
    const __m256 evens = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  return _mm256_i32gather_ps(p, gather, 4);
}

}  // namespace
}  // namespace deployrt
#endif  // __x86_64__
