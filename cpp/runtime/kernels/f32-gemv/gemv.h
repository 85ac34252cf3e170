// Matrix-vector (and few-row matrix) products for linear:
//   y[i][j] = clamp(bias[j] + sum_k x[i][k] * W[j][k] + residual[i][j], min, max)
// with the weights W [OUT, IN] packed once (at create) into column panels [IN][NR]
// (f32_gemv_pack_weights): each k step reads NR contiguous weights, the layout a stream
// of weights wants. x rows are read in place (row stride ldx). A call computes an
// mr x nr block (mr <= MR, nr <= NR) of one panel.
//
// Summation order, fixed for every output: U interleaved partial sums over k (k % U),
// combined as (s0 + s1) + (s2 + s3), then bias, then residual. It does not depend on mr,
// on the block's position or on threading, so a row's result is the same however the
// op splits its work.
#pragma once

#include <cstdint>

#include "cpu/cpu_features.h"

namespace deployrt {

struct GemvEpilogue {
  const float* bias = nullptr;      // offset to the panel's first column (per column, unlike GEMM's per-row bias)
  const float* residual = nullptr;  // offset to the block's y[0][0]; row stride ldy
  float min = 0.0f, max = 0.0f;
};

using F32GemvUkernel = void (*)(int64_t k, const float* x, int64_t ldx, const float* w_panel, float* y, int64_t ldy,
                                int64_t mr, int64_t nr, const GemvEpilogue& epilogue);

/// Interleaved partial sums per output (see above); every variant uses the same U.
constexpr int kGemvSplitK = 4;

// The one list of microkernels: X(name, isa, MR, NR). Dispatch and tests expand it.
#define DEPLOYRT_F32_GEMV_PORTABLE(X) X(scalar_1x8, kScalar, 1, 8)
#if defined(__x86_64__)
#define DEPLOYRT_F32_GEMV_X86(X) \
  X(avx2_1x16, kAvx2, 1, 16)     \
  X(avx512_2x32, kAvx512, 2, 32)
#else
#define DEPLOYRT_F32_GEMV_X86(X)
#endif
#define DEPLOYRT_F32_GEMV_VARIANTS(X) DEPLOYRT_F32_GEMV_PORTABLE(X) DEPLOYRT_F32_GEMV_X86(X)

#define DEPLOYRT_DECLARE_F32_GEMV(name, isa, mr, nr)                                                  \
  void f32_gemv_##name(int64_t k, const float* x, int64_t ldx, const float* w_panel, float* y, int64_t ldy, \
                       int64_t mr_, int64_t nr_, const GemvEpilogue& epilogue);
DEPLOYRT_F32_GEMV_VARIANTS(DEPLOYRT_DECLARE_F32_GEMV)
#undef DEPLOYRT_DECLARE_F32_GEMV

struct F32GemvVariant {
  const char* name;
  IsaLevel isa;
  int mr, nr;
  F32GemvUkernel fn;
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32GemvVariant* f32_gemv_variants(int* count);

/// The variant of the highest ISA available at `level`.
const F32GemvVariant& f32_gemv_select(IsaLevel level);

/// Floats of the packed weights of an [out_features, in_features] matrix for panels of nr.
int64_t f32_gemv_packed_floats(int64_t out_features, int64_t in_features, int nr);

/// Packs w [out_features, in_features] (row-major) into ceil(out/nr) panels [in][nr];
/// columns past out_features are zero.
void f32_gemv_pack_weights(const float* w, int64_t out_features, int64_t in_features, int nr, float* out);

}  // namespace deployrt
