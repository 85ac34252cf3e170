// conv2d through Winograd F(4x4, 3x3) (kernels/f32-winograd): when it is chosen, and the
// OpKernel that runs it. conv2d.cc asks winograd_wins() and then create_conv2d_winograd().
#pragma once

#include <memory>

#include "kernels/epilogue.h"
#include "kernels/reference/conv2d_ref.h"
#include "ops/op.h"

namespace deployrt {

/// Whether Winograd beats im2col + packed GEMM for this conv (constant weights assumed).
bool winograd_wins(const Conv2dShape& shape);

struct WinogradPlan;

/// How Winograd convs keep their transformed weights U (4x the raw weight's bytes).
///  kPacked: U packed once, at create (or read in place from a prepacked archive).
///  kPerCall: convs whose tiles make one chunk (each U element used by one chunk per call,
///    e.g. ResNet's 14x14 layer3) keep no U: each call transforms one A panel at a time
///    from the raw weight into a per-thread slot, right before its GEMMs. Bit-identical
///    results; saves the U bytes (ResNet-50: peak RSS 161 -> 122 MB; prepacked archives
///    ResNet-18 125 -> 94 MB, ResNet-50 252 -> 200 MB) but costs time: writing U (36 C OC
///    floats) into L2 costs more than the packed path's streaming it from L3, measured
///    1.3-1.6x per 256-channel 14x14 conv at 1 and 2 threads on the development host.
enum class WinogradWeights { kPacked, kPerCall };

/// The mode for kernels created on this thread: a ScopedWinogradWeights' when one is set
/// (Module::load sets kPerCall for LoadOptions::compact_weights), else kPacked.
WinogradWeights winograd_weights_mode();

/// Sets the mode for kernels created on this thread for its scope (tests, and a loader
/// that wants the smaller footprint).
class ScopedWinogradWeights {
 public:
  explicit ScopedWinogradWeights(WinogradWeights mode);
  ~ScopedWinogradWeights();
  ScopedWinogradWeights(const ScopedWinogradWeights&) = delete;
  ScopedWinogradWeights& operator=(const ScopedWinogradWeights&) = delete;

 private:
  int previous_;
};

/// Whether a plan created now transforms its weights per call: in kPerCall mode, when its
/// tiles make one chunk.
bool winograd_per_call(const WinogradPlan& plan);

/// The kernel for a node winograd_wins() accepted; weights transformed and packed here,
/// once, or per call (winograd_per_call).
Result<std::unique_ptr<OpKernel>> create_conv2d_winograd(const NodeInfo& node, const Conv2dShape& shape,
                                                         Activation act);

}  // namespace deployrt
