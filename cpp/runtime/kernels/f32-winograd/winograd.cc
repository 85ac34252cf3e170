#include "kernels/f32-winograd/winograd.h"

#include <algorithm>
#include <limits>

#include "kernels/variant_table.h"

namespace deployrt {

const F32WinogradVariant* f32_winograd_variants(int* count) {
#define DEPLOYRT_F32_WINOGRAD_ENTRY(name, isa, lanes) \
  {#name, IsaLevel::isa, lanes, f32_winograd_input_##name, f32_winograd_output_##name, f32_winograd_weight_##name},
  static const F32WinogradVariant kVariants[] = {DEPLOYRT_F32_WINOGRAD_VARIANTS(DEPLOYRT_F32_WINOGRAD_ENTRY)};
#undef DEPLOYRT_F32_WINOGRAD_ENTRY
  return variant_list(kVariants, count);
}

const F32WinogradVariant& f32_winograd_select(IsaLevel level) {
  return select_variant(f32_winograd_variants, level);
}

bool f32_winograd_supports(const Conv2dShape& s) {
  if (s.kernel_h != 3 || s.kernel_w != 3 || s.stride_h != 1 || s.stride_w != 1 || s.dilation_h != 1 ||
      s.dilation_w != 1 || s.groups != 1) {
    return false;
  }
  // The SIMD variants index x and y (and residual) of the whole batch with int32 lane
  // offsets, plus up to a patch's reach; keep both tensors well inside that range.
  constexpr int64_t kLimit = int64_t{1} << 30;
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  if (in_plane > kLimit || out_plane > kLimit) return false;
  if (s.in_channels > kLimit / in_plane || s.batch > kLimit / (s.in_channels * in_plane)) return false;
  if (s.out_channels > kLimit / out_plane || s.batch > kLimit / (s.out_channels * out_plane)) return false;
  // The weight transforms gather a panel's rows with int32 offsets of up to 32 rows of
  // C * 9 floats.
  if (s.in_channels > kLimit / (32 * 9)) return false;
  return s.in_width < kLimit / 8 && s.out_width < kLimit / 8;
}

WinogradPlan make_winograd_plan(const Conv2dShape& s, const F32GemmVariant& gemm, const F32WinogradVariant& xform) {
  WinogradPlan p;
  p.shape = s;
  p.gemm = gemm;
  p.xform = xform;
  p.tiles_h = (s.out_height + kWinogradTile - 1) / kWinogradTile;
  p.tiles_w = (s.out_width + kWinogradTile - 1) / kWinogradTile;
  p.tiles = s.batch * p.tiles_h * p.tiles_w;
  p.m_panels = (s.out_channels + gemm.mr - 1) / gemm.mr;
  // Chunk so that one chunk's V and M (36 * (C + OC) floats per tile) stay near 1 MiB, so
  // the GEMMs read V and the output transform reads M from L2; at least one NR panel.
  // Chunks are balanced (the last one is not a sliver) and rounded up to whole panels.
  constexpr int64_t kChunkBytes = int64_t{1} << 20;
  const int64_t per_tile = kWinogradPoints * (s.in_channels + s.out_channels) * int64_t{sizeof(float)};
  const int64_t cap = std::max<int64_t>(gemm.nr, kChunkBytes / per_tile / gemm.nr * gemm.nr);
  const int64_t chunks = (p.tiles + cap - 1) / cap;
  const int64_t balanced = (p.tiles + chunks - 1) / chunks;
  p.chunk_tiles = (balanced + gemm.nr - 1) / gemm.nr * gemm.nr;
  return p;
}

void f32_winograd_pack_weight_panels(const WinogradPlan& p, const float* weight, float* out, int64_t begin,
                                     int64_t end) {
  const int64_t panel = p.a_panel_floats();
  for (int64_t m = begin; m < end; ++m) p.xform.weight(p, weight, m, out + m * panel, p.m_panels * panel);
}

int64_t f32_winograd_lane_groups(const WinogradPlan& p, int64_t chunk_begin, int64_t chunk_end) {
  // Whole GEMM panels: the lanes past the chunk's last tile up to the panel end are zeroed
  // by the input transform, so the GEMM never reads uninitialized memory.
  const int64_t panels = (chunk_end - chunk_begin + p.gemm.nr - 1) / p.gemm.nr;
  return panels * (p.gemm.nr / p.xform.lanes);
}

int64_t f32_winograd_gemm_items(const WinogradPlan& p, int64_t chunk_begin, int64_t chunk_end) {
  const int64_t panels = (chunk_end - chunk_begin + p.gemm.nr - 1) / p.gemm.nr;
  return kWinogradPoints * p.m_panels * panels;
}

namespace {

// One GEMM tile, the same microkernel call for the packed and the per-call U (hence their
// bit-identical outputs): A panel `a` (position xi, rows mp * MR ..) times n panel n of V.
// The epilogue belongs after the output transform: none here.
void winograd_gemm_tile(const WinogradPlan& p, const float* a, const float* v, float* m, int64_t count, int64_t xi,
                        int64_t mp, int64_t n) {
  GemmEpilogue ep;
  ep.min = -std::numeric_limits<float>::infinity();
  ep.max = std::numeric_limits<float>::infinity();
  const int64_t oc_count = p.shape.out_channels, row0 = mp * p.gemm.mr;
  const int64_t mr = std::min<int64_t>(p.gemm.mr, oc_count - row0);
  const int64_t nr = std::min<int64_t>(p.gemm.nr, count - n * p.gemm.nr);
  p.gemm.fn(p.shape.in_channels, a, v + (xi * p.chunk_n_panels() + n) * p.b_panel_floats(), p.gemm.nr,
            m + (xi * oc_count + row0) * p.chunk_tiles + n * p.gemm.nr, p.chunk_tiles, mr, nr, ep);
}

}  // namespace

void f32_winograd_gemm(const WinogradPlan& p, const float* packed_u, const float* v, float* m, int64_t chunk_begin,
                       int64_t chunk_end, int64_t begin, int64_t end) {
  const int64_t count = chunk_end - chunk_begin;
  const int64_t panels = (count + p.gemm.nr - 1) / p.gemm.nr;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t n = item % panels, xm = item / panels;
    const int64_t xi = xm / p.m_panels, mp = xm % p.m_panels;
    winograd_gemm_tile(p, packed_u + (xi * p.m_panels + mp) * p.a_panel_floats(), v, m, count, xi, mp, n);
  }
}

void f32_winograd_gemm_panel(const WinogradPlan& p, const float* u, int64_t u_xi_stride, const float* v, float* m,
                             int64_t chunk_begin, int64_t chunk_end, int64_t mp) {
  const int64_t count = chunk_end - chunk_begin;
  const int64_t panels = (count + p.gemm.nr - 1) / p.gemm.nr;
  for (int64_t xi = 0; xi < kWinogradPoints; ++xi) {
    for (int64_t n = 0; n < panels; ++n) winograd_gemm_tile(p, u + xi * u_xi_stride, v, m, count, xi, mp, n);
  }
}

}  // namespace deployrt
