// Portable GEMV microkernel (DEPLOYRT_ISA=scalar, aarch64): one row, 8 columns, the
// kGemvSplitK interleaved partial sums of gemv.h; plain C++ the compiler may vectorize.
#include "kernels/epilogue.h"
#include "kernels/f32-gemv/gemv.h"

namespace deployrt {

void f32_gemv_scalar_1x8(int64_t k, const float* x, int64_t /*ldx*/, const float* w, float* y, int64_t /*ldy*/,
                         int64_t /*mr*/, int64_t nr, const GemvEpilogue& ep) {
  constexpr int NR = 8, U = kGemvSplitK;
  float acc[U][NR] = {};
  int64_t p = 0;
  for (; p + U <= k; p += U) {
    for (int u = 0; u < U; ++u) {
      const float xv = x[p + u];
      const float* wp = w + (p + u) * NR;
      for (int j = 0; j < NR; ++j) acc[u][j] += xv * wp[j];
    }
  }
  for (int u = 0; p < k; ++p, ++u) {
    const float xv = x[p];
    for (int j = 0; j < NR; ++j) acc[u][j] += xv * w[p * NR + j];
  }
  for (int64_t j = 0; j < nr; ++j) {
    float v = (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j]);
    if (ep.bias != nullptr) v += ep.bias[j];
    if (ep.residual != nullptr) v += ep.residual[j];
    y[j] = clamp_keep_nan(v, ep.min, ep.max);
  }
}

}  // namespace deployrt
