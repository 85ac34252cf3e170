// Winograd F(4x4, 3x3) convolution on NCHW for stride-1, dilation-1, groups-1 3x3 convs:
// each 4x4 output tile comes from a 6x6 input patch d as
//   Y = A^T [ sum_c (G g_c G^T) . (B^T d_c B) ] A        (. = element-wise over 36 positions)
// i.e. 36 independent GEMMs  M[xi][OC, tiles] = U[xi][OC, C] x V[xi][C, tiles]  between the
// transformed weights U (computed in float and packed once, at create, into the f32-gemm
// microkernels' A panels) and the transformed input V (written per call straight into the
// B panel layout). The output transform applies the fused epilogue (bias, residual, clamp).
// Interpolation points 0, +-1, +-2, inf (Lavin & Gray 2015): the standard F(4,3) matrices.
//
// Tiles are numbered over the whole batch, t = (n * tiles_h + ty) * tiles_w + tx, and run
// in chunks of at most chunk_tiles so the workspace (V and M of one chunk) stays near L2
// size. Each chunk runs three phases, each a list of independent work items the op spreads
// over its thread pool: input transform, GEMMs, output transform. Every output is computed
// in a fixed order whatever the split, so results never depend on the thread count.
//
// The transforms vectorize across tiles (one tile per lane): `lanes` tiles per item.
//
// The weights are transformed either once, at create, into U for every A panel (kept for
// the kernel's life: 36/9 = 4x the raw weight's bytes), or per call, one A panel (MR
// output channels, all 36 positions) at a time into a small per-thread slot right before
// the GEMMs that use it (ops/conv2d_winograd.cc chooses). Both run the same weight
// transform variant, so both give bit-identical U and results.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/cpu_features.h"
#include "kernels/epilogue.h"
#include "kernels/f32-gemm/gemm.h"
#include "kernels/reference/conv2d_ref.h"

namespace deployrt {

constexpr int kWinogradAlpha = 6;                 // input patch side: 4 + 3 - 1
constexpr int kWinogradPoints = 36;               // transform positions (alpha^2)
constexpr int kWinogradTile = 4;                  // output tile side

struct WinogradPlan;

// The weight transform U = G g G^T in its cheap form: G = diag(kWinogradGScale) H with
//   H = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 1 -2 4; 0 0 1]
// (G's entries 1/4, -1/6, 1/24, 1/12 = 2/24, 1/6 = 4/24 and 1). Every variant applies H
// down the columns then along the rows (adds, and scalings by 2 and 4, which are exact,
// so whether a compiler fuses them into an FMA changes nothing), and then multiplies each
// position by one constant: bit-identical across variants and instruction sets.
constexpr double kWinogradGScale[6] = {0.25, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 1.0};
/// The scale of position xi = 6 i + j: G's row scales of i and j, rounded once.
constexpr float winograd_u_scale(int xi) {
  return static_cast<float>(kWinogradGScale[xi / 6] * kWinogradGScale[xi % 6]);
}

/// Input transform of items [begin, end): item = g * C + c (g: lane group of the chunk).
/// Writes V[xi][n_panel][c][NR] for the chunk's lanes; lanes past `chunk_end` get zeros.
using F32WinogradInputFn = void (*)(const WinogradPlan& p, const float* x, int64_t chunk_begin, int64_t chunk_end,
                                    float* v, int64_t begin, int64_t end);
/// Output transform of items [begin, end): item = g * OC + oc. Reads M[xi][oc][chunk_cols],
/// writes y (and reads residual, both [N, OC, OH, OW]) for the chunk's tiles.
using F32WinogradOutputFn = void (*)(const WinogradPlan& p, const float* m, int64_t chunk_begin, int64_t chunk_end,
                                     const float* bias, const float* residual, Activation act, float* y,
                                     int64_t begin, int64_t end);

/// Weight transform of A panel `m_panel` (output channels m_panel * MR ..): writes
/// U[xi][c][r] = (G g_{oc,c} G^T)[xi] for oc = m_panel * MR + r at u + xi * xi_stride +
/// c * MR + r, for all 36 positions, C channels and MR rows (rows past OC: zeros). Reads
/// the raw weight [OC, C, 3, 3]. Vectorized across the panel's rows (output channels).
using F32WinogradWeightFn = void (*)(const WinogradPlan& p, const float* weight, int64_t m_panel, float* u,
                                     int64_t xi_stride);

// The one list of transform variants: X(name, isa, lanes). Dispatch and tests expand it.
#define DEPLOYRT_F32_WINOGRAD_PORTABLE(X) X(scalar, kScalar, 1)
#if defined(__x86_64__)
#define DEPLOYRT_F32_WINOGRAD_X86(X) \
  X(avx2, kAvx2, 8)                  \
  X(avx512, kAvx512, 16)
#else
#define DEPLOYRT_F32_WINOGRAD_X86(X)
#endif
#define DEPLOYRT_F32_WINOGRAD_VARIANTS(X) DEPLOYRT_F32_WINOGRAD_PORTABLE(X) DEPLOYRT_F32_WINOGRAD_X86(X)

#define DEPLOYRT_DECLARE_F32_WINOGRAD(name, isa, lanes)                                                        \
  void f32_winograd_input_##name(const WinogradPlan& p, const float* x, int64_t chunk_begin, int64_t chunk_end, \
                                 float* v, int64_t begin, int64_t end);                                        \
  void f32_winograd_output_##name(const WinogradPlan& p, const float* m, int64_t chunk_begin, int64_t chunk_end, \
                                  const float* bias, const float* residual, Activation act, float* y,           \
                                  int64_t begin, int64_t end);                                                 \
  void f32_winograd_weight_##name(const WinogradPlan& p, const float* weight, int64_t m_panel, float* u,        \
                                  int64_t xi_stride);
DEPLOYRT_F32_WINOGRAD_VARIANTS(DEPLOYRT_DECLARE_F32_WINOGRAD)
#undef DEPLOYRT_DECLARE_F32_WINOGRAD

struct F32WinogradVariant {
  const char* name;
  IsaLevel isa;
  int lanes;  // tiles per transform item; divides the GEMM's NR
  F32WinogradInputFn input;
  F32WinogradOutputFn output;
  F32WinogradWeightFn weight;  // vectorized across output channels, not tiles
};

/// Every variant of the list (whether or not this CPU can run it), in list order.
const F32WinogradVariant* f32_winograd_variants(int* count);

/// The transform variant of the highest ISA available at `level`.
const F32WinogradVariant& f32_winograd_select(IsaLevel level);

struct WinogradPlan {
  Conv2dShape shape;
  F32GemmVariant gemm;
  F32WinogradVariant xform;
  int64_t tiles_h = 0, tiles_w = 0;  // per image: ceil(OH / 4), ceil(OW / 4)
  int64_t tiles = 0;                 // over the batch
  int64_t chunk_tiles = 0;           // tiles per chunk, a multiple of gemm.nr
  int64_t m_panels = 0;              // ceil(OC / MR)

  int64_t chunks() const { return (tiles + chunk_tiles - 1) / chunk_tiles; }
  int64_t chunk_n_panels() const { return chunk_tiles / gemm.nr; }
  int64_t a_panel_floats() const { return shape.in_channels * gemm.mr; }
  int64_t b_panel_floats() const { return shape.in_channels * gemm.nr; }
  /// V floats (the transformed input of one chunk); M (the GEMM outputs) follows it.
  int64_t v_floats() const { return kWinogradPoints * shape.in_channels * chunk_tiles; }
  int64_t m_floats() const { return kWinogradPoints * shape.out_channels * chunk_tiles; }
  size_t workspace_bytes() const { return static_cast<size_t>(v_floats() + m_floats()) * sizeof(float); }
  /// Floats between the 36 positions' A panels in a per-call transform slot: the panel
  /// rounded up to 64 bytes, plus 128, so that the 36 stores of one channel's U do not all
  /// fall in one L1 set (a panel of 4 KiB multiples, as C * MR * 4 bytes often is, would:
  /// measured 2x slower transforms at 256 channels).
  int64_t u_xi_stride() const { return (a_panel_floats() + 15) / 16 * 16 + 32; }
  /// Floats of one per-call transform slot: one A panel's U for all 36 positions.
  int64_t u_slot_floats() const { return kWinogradPoints * u_xi_stride(); }
};

/// Whether the Winograd path can compute this conv at all: 3x3, stride 1, dilation 1,
/// groups 1, and tensors whose element offsets fit the SIMD variants' int32 lane indices.
bool f32_winograd_supports(const Conv2dShape& shape);

/// The plan for a supported shape; `gemm.nr` must be a multiple of `xform.lanes`.
WinogradPlan make_winograd_plan(const Conv2dShape& shape, const F32GemmVariant& gemm,
                                const F32WinogradVariant& xform);

/// Floats of U = G g G^T for weight [OC, C, 3, 3], packed as [36][m_panels] A panels of
/// [C][MR] (rows past OC zero).
inline size_t f32_winograd_packed_floats(const WinogradPlan& plan) {
  return static_cast<size_t>(kWinogradPoints * plan.m_panels * plan.a_panel_floats());
}
/// Packs row blocks [begin, end) of m_panels (all 36 positions of each) into `out`, a
/// 64-byte aligned buffer of f32_winograd_packed_floats, with plan.xform.weight: blocks are
/// independent, so a load spreads them over its threads.
void f32_winograd_pack_weight_panels(const WinogradPlan& plan, const float* weight, float* out, int64_t begin,
                                     int64_t end);

/// Items of each phase for the chunk [chunk_begin, chunk_end).
int64_t f32_winograd_lane_groups(const WinogradPlan& plan, int64_t chunk_begin, int64_t chunk_end);
int64_t f32_winograd_gemm_items(const WinogradPlan& plan, int64_t chunk_begin, int64_t chunk_end);

/// GEMM items [begin, end) of a chunk: item = (xi * m_panels + m) * n_panels + n over the
/// chunk's n panels (weights-major: an A panel is reused across its n tiles).
void f32_winograd_gemm(const WinogradPlan& plan, const float* packed_u, const float* v, float* m,
                       int64_t chunk_begin, int64_t chunk_end, int64_t begin, int64_t end);

/// Every GEMM of one A panel for a chunk: the 36 positions x the chunk's n panels, with
/// that panel's U at u + xi * u_xi_stride (a per-call slot: plan.u_xi_stride()).
/// Each GEMM tile is the same microkernel call as in f32_winograd_gemm, so the outputs are
/// bit-identical to it for the same U.
void f32_winograd_gemm_panel(const WinogradPlan& plan, const float* u, int64_t u_xi_stride, const float* v, float* m,
                             int64_t chunk_begin, int64_t chunk_end, int64_t m_panel);

/// Where tile t lives: image n, top-left output (oh0, ow0).
struct WinogradTile {
  int64_t n, oh0, ow0;
};
inline WinogradTile winograd_tile(const WinogradPlan& p, int64_t t) {
  const int64_t per_image = p.tiles_h * p.tiles_w;
  const int64_t r = t % per_image;
  return {t / per_image, r / p.tiles_w * kWinogradTile, r % p.tiles_w * kWinogradTile};
}

}  // namespace deployrt
