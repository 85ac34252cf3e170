// Portable microkernel: plain C++ the compiler may vectorize for the baseline ISA. It is
// also what aarch64 (and DEPLOYRT_ISA=scalar) runs, and the reference the tests hold the
// other variants to.
#include "kernels/epilogue.h"
#include "kernels/f32-igemm/igemm.h"

namespace deployrt {

void f32_igemm_scalar_4x8(int64_t k, const float* a, const float* b, const int64_t* offsets, float* c, int64_t ldc,
                          int64_t mr, int64_t nr, const GemmEpilogue& ep) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR];
  for (int i = 0; i < MR; ++i) {
    const float init = ep.bias != nullptr && i < mr ? ep.bias[i] : 0.0f;
    for (int j = 0; j < NR; ++j) acc[i][j] = init;
  }
  for (int64_t p = 0; p < k; ++p) {
    const float* ap = a + p * MR;
    const float* bp = b + offsets[p];
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
    }
  }
  for (int64_t i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    const float* res = ep.residual != nullptr ? ep.residual + i * ldc : nullptr;
    for (int64_t j = 0; j < nr; ++j) {
      const float v = res != nullptr ? acc[i][j] + res[j] : acc[i][j];
      row[j] = clamp_keep_nan(v, ep.min, ep.max);
    }
  }
}

}  // namespace deployrt
