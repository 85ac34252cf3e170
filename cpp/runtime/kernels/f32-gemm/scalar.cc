// Portable microkernel: plain C++ the compiler may vectorize for the baseline ISA. It is
// also what aarch64 (and DEPLOYRT_ISA=scalar) runs.
#include "kernels/f32-gemm/gemm.h"
#include "kernels/f32-gemm/scalar_tile.h"

namespace deployrt {

void f32_gemm_scalar_4x8(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t mr,
                         int64_t nr, const GemmEpilogue& ep) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR];
  init_accumulators(acc, ep, mr);
  // Columns past nr are never stored: computing only nr of them reads nothing past an
  // unpacked B's rows.
  for (int64_t p = 0; p < k; ++p) {
    const float* ap = a + p * MR;
    const float* bp = b + p * ldb;
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < nr; ++j) acc[i][j] += ap[i] * bp[j];
    }
  }
  store_tile(acc, c, ldc, mr, nr, ep);
}

}  // namespace deployrt
