#include "ops/conv2d_winograd.h"

#include <algorithm>
#include <utility>

#include "cpu/cpu_features.h"
#include "kernels/f32-winograd/winograd.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/weight_cache.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2, kResidual = 3 };

class Conv2dWinogradKernel final : public OpKernel {
 public:
  // `packed` null: the per-call mode (one chunk only), which transforms each A panel's U
  // from the raw weight (input kWeight) into one of `u_slots` per-thread slots.
  Conv2dWinogradKernel(const WinogradPlan& plan, std::shared_ptr<const void> packed, Activation act,
                       int slots, int u_slots)
      : plan_(plan), packed_(std::move(packed)), act_(act), slots_(slots), u_slots_(u_slots) {}

  // The packed mode never reads the raw weight again; the per-call mode reads it every call.
  bool reads_input(size_t k) const override { return k != kWeight || !packed_; }

  // One chunk workspace (V and M) per slot, then the per-call U slots. A multiple of 16
  // floats each (v_floats and m_floats are 36 * channels * chunk_tiles, chunk_tiles a
  // multiple of NR >= 8; u_slot_floats is rounded up): slots stay aligned.
  size_t workspace_bytes() const override {
    return static_cast<size_t>(slots_) * plan_.workspace_bytes() +
           static_cast<size_t>(u_slots_ * plan_.u_slot_floats()) * sizeof(float);
  }

  void run(const TensorRef* inputs, TensorRef* outputs, void* workspace, ThreadPool& pool) const override {
    const WinogradPlan& p = plan_;
    const float* x = inputs[kX].as<const float>();
    const float* bias = inputs[kBias].as<const float>();  // null when absent (OpDef::input_slots)
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    float* ws = static_cast<float*>(workspace);
    if (!packed_) {
      run_per_call(x, inputs[kWeight].as<const float>(), bias, residual, y, ws, pool);
      return;
    }
    const int64_t slot_floats = static_cast<int64_t>(p.workspace_bytes() / sizeof(float));
    // Whole chunks per thread first: each thread transforms, multiplies and writes back
    // its own chunks in its own workspace, so V and M never move between cores' caches
    // and a chunk costs no barrier. The chunks left over (fewer than the threads) are
    // split phase by phase over all threads.
    const int64_t slots = std::min<int64_t>(slots_, pool.num_threads());
    const int64_t whole = slots > 1 ? p.chunks() / slots * slots : 0;
    if (whole > 0) {
      pool.parallel_for(slots, [&](int64_t begin, int64_t end) {
        for (int64_t slot = begin; slot < end; ++slot) {
          float* v = ws + slot * slot_floats;
          for (int64_t chunk = slot; chunk < whole; chunk += slots) run_chunk_inline(chunk, x, bias, residual, y, v);
        }
      });
    }
    for (int64_t chunk = whole; chunk < p.chunks(); ++chunk) run_chunk_split(chunk, x, bias, residual, y, ws, pool);
  }

 private:
  // The one chunk: input transform over all threads; then each thread takes a contiguous
  // range of A panels and, per panel, transforms its U into the thread's slot, runs its 36
  // x n-panel GEMMs and the output transform of its rows (M rows complete, still in cache).
  // The same GEMM tiles and output transforms as the packed path: bit-identical to it.
  void run_per_call(const float* x, const float* weight, const float* bias, const float* residual, float* y,
                    float* ws, ThreadPool& pool) const {
    const WinogradPlan& p = plan_;
    float* v = ws;
    float* m = v + p.v_floats();
    float* u_slots = ws + static_cast<int64_t>(slots_) * static_cast<int64_t>(p.workspace_bytes() / sizeof(float));
    const int64_t c_count = p.shape.in_channels, oc_count = p.shape.out_channels;
    const int64_t transform_work = work_product({p.xform.lanes, kWinogradPoints, 10});
    const int64_t cb = 0, ce = p.tiles;
    const int64_t groups = f32_winograd_lane_groups(p, cb, ce);
    pool.parallel_for(
        groups * c_count, [&](int64_t begin, int64_t end) { p.xform.input(p, x, cb, ce, v, begin, end); },
        grain_for(transform_work));
    const int64_t pieces = std::min<int64_t>({u_slots_, pool.num_threads(), p.m_panels});
    pool.parallel_for(pieces, [&](int64_t begin, int64_t end) {
      for (int64_t piece = begin; piece < end; ++piece) {
        float* u = u_slots + piece * p.u_slot_floats();
        int64_t first = 0, last = 0;
        even_piece(p.m_panels, pieces, piece, &first, &last);
        for (int64_t mp = first; mp < last; ++mp) {
          p.xform.weight(p, weight, mp, u, p.u_xi_stride());
          f32_winograd_gemm_panel(p, u, p.u_xi_stride(), v, m, cb, ce, mp);
          const int64_t row0 = mp * p.gemm.mr, rows = std::min<int64_t>(p.gemm.mr, oc_count - row0);
          for (int64_t g = 0; g < groups; ++g) {
            p.xform.output(p, m, cb, ce, bias, residual, act_, y, g * oc_count + row0, g * oc_count + row0 + rows);
          }
        }
      }
    });
  }

  void run_chunk_inline(int64_t chunk, const float* x, const float* bias, const float* residual, float* y,
                        float* v) const {
    const WinogradPlan& p = plan_;
    const float* u = static_cast<const float*>(packed_.get());
    float* m = v + p.v_floats();
    const int64_t cb = chunk * p.chunk_tiles, ce = std::min(p.tiles, cb + p.chunk_tiles);
    const int64_t groups = f32_winograd_lane_groups(p, cb, ce);
    p.xform.input(p, x, cb, ce, v, 0, groups * p.shape.in_channels);
    f32_winograd_gemm(p, u, v, m, cb, ce, 0, f32_winograd_gemm_items(p, cb, ce));
    p.xform.output(p, m, cb, ce, bias, residual, act_, y, 0, groups * p.shape.out_channels);
  }

  void run_chunk_split(int64_t chunk, const float* x, const float* bias, const float* residual, float* y, float* v,
                       ThreadPool& pool) const {
    const WinogradPlan& p = plan_;
    const float* u = static_cast<const float*>(packed_.get());
    float* m = v + p.v_floats();
    const int64_t c_count = p.shape.in_channels, oc_count = p.shape.out_channels;
    // Per item: a transform of `lanes` tiles (~10 operations per patch value); a GEMM tile.
    const int64_t transform_work = work_product({p.xform.lanes, kWinogradPoints, 10});
    const int64_t gemm_work = work_product({c_count, p.gemm.mr, p.gemm.nr});
    const int64_t cb = chunk * p.chunk_tiles, ce = std::min(p.tiles, cb + p.chunk_tiles);
    const int64_t groups = f32_winograd_lane_groups(p, cb, ce);
    pool.parallel_for(
        groups * c_count, [&](int64_t begin, int64_t end) { p.xform.input(p, x, cb, ce, v, begin, end); },
        grain_for(transform_work));
    pool.parallel_for(
        f32_winograd_gemm_items(p, cb, ce),
        [&](int64_t begin, int64_t end) { f32_winograd_gemm(p, u, v, m, cb, ce, begin, end); },
        grain_for(gemm_work));
    pool.parallel_for(
        groups * oc_count,
        [&](int64_t begin, int64_t end) { p.xform.output(p, m, cb, ce, bias, residual, act_, y, begin, end); },
        grain_for(transform_work));
  }

  WinogradPlan plan_;
  std::shared_ptr<const void> packed_;  // possibly shared with other specializations (ops/weight_cache.h)
  Activation act_;
  int slots_;  // chunk workspaces: the threads of the pool it was created for, at most the chunks
  int u_slots_;  // per-call U slots: the pool's threads, at most the A panels (0 when packed)
};

}  // namespace

// Measured on this machine (docs/PERFORMANCE.md, "Winograd"), one thread, AVX-512,
// im2col + packed GEMM vs Winograd for 3x3 pad-1 convs, C = OC:
//   64ch 56x56 and 128ch 28x28: Winograd 3-7x faster (GEMM fed 2.25x fewer FLOPs and no
//   im2col); 64ch 14x14: 3.3x; 256ch 14x14 (16 tiles): 1.8x; 32ch and 16ch 28x28: 2.7-3.1x;
//   256ch 10x10 (9 tiles): 0.98x; 64ch 7x7: 1.06x; 256ch 7x7: 0.46x; 512ch 7x7: 0.1-0.5x.
// Below 16 tiles the 4x4 tiles fill less than one 16-wide GEMM panel (7x7 is 4 tiles:
// 3/4 of every panel is padding) while the transformed weights are 4x the originals and
// stream from memory once per call, so the small late layers stay on im2col + GEMM.
// Below 16 channels the transforms outweigh the GEMM they save.
bool winograd_wins(const Conv2dShape& s) {
  if (!f32_winograd_supports(s)) return false;
  const int64_t tiles = s.batch * ((s.out_height + 3) / 4) * ((s.out_width + 3) / 4);
  return s.in_channels >= 16 && s.out_channels >= 16 && tiles >= 16;
}

namespace {
thread_local int t_weights_mode = -1;  // ScopedWinogradWeights; -1: none set
}  // namespace

WinogradWeights winograd_weights_mode() {
  return t_weights_mode >= 0 ? static_cast<WinogradWeights>(t_weights_mode) : WinogradWeights::kPacked;
}

ScopedWinogradWeights::ScopedWinogradWeights(WinogradWeights mode) : previous_(t_weights_mode) {
  t_weights_mode = static_cast<int>(mode);
}
ScopedWinogradWeights::~ScopedWinogradWeights() { t_weights_mode = previous_; }

// One chunk: each U element is used by that chunk's n panels only, from the slot in L2.
// With several chunks a per-call U would be transformed once per chunk (or V and M kept
// for every tile at once); their U is also the smaller part (ResNet's 56x56 and 28x28).
bool winograd_per_call(const WinogradPlan& plan) {
  return winograd_weights_mode() == WinogradWeights::kPerCall && plan.chunks() == 1;
}

Result<std::unique_ptr<OpKernel>> create_conv2d_winograd(const NodeInfo& node, const Conv2dShape& s,
                                                         Activation act) {
  const IsaLevel level = isa_level();
  const F32WinogradVariant& xform = f32_winograd_select(level);
  const int64_t tiles = s.batch * ((s.out_height + 3) / 4) * ((s.out_width + 3) / 4);
  const WinogradPlan plan = make_winograd_plan(s, f32_gemm_select(level, s.out_channels, tiles, xform.lanes), xform);
  if (winograd_per_call(plan)) {
    // Nothing packed: the raw weight is read at run time (input kWeight, in the archive),
    // so the loader checksums it (api/module.cc checks raw weights a kernel reads); its
    // pages, released after create like every constant's, fault back in on the first call.
    // A U prepacked for this node (an archive exported in the packed mode) is not used.
    const int u_slots = static_cast<int>(std::min<int64_t>(load_pool_threads(), plan.m_panels));
    return std::unique_ptr<OpKernel>(new Conv2dWinogradKernel(plan, nullptr, act, 1, std::max(u_slots, 1)));
  }
  const float* weight = constant_f32(node, kWeight);
  // The transformed panels depend on the weight and the microkernel's tile height only.
  std::shared_ptr<const void> packed =
      packed_weights(node, {weight, kWinogradPacking, {plan.gemm.mr, 0, 0}},
                     f32_winograd_packed_floats(plan) * sizeof(float), [&] {
        AlignedBuffer buffer(aligned_malloc_or_null(f32_winograd_packed_floats(plan) * sizeof(float)));
        if (buffer) {
          float* out = static_cast<float*>(buffer.get());
          parallel_pack(plan.m_panels, kWinogradPoints * plan.a_panel_floats() * int64_t{sizeof(float)},
                        [&](int64_t begin, int64_t end) {
                          f32_winograd_pack_weight_panels(plan, weight, out, begin, end);
                        });
        }
        return buffer;
      });
  if (!packed) return node.error("out of memory transforming weights " + node.inputs[kWeight].to_string());
  const int slots = static_cast<int>(std::min<int64_t>(load_pool_threads(), plan.chunks()));
  return std::unique_ptr<OpKernel>(
      new Conv2dWinogradKernel(plan, std::move(packed), act, std::max(slots, 1), 0));
}

}  // namespace deployrt
