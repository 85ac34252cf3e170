// Dynamic shapes (format 1.2): a Module whose archive has symbolic dims is prepared per
// input shape, on the first call with that shape.
//
// get() checks the caller's inputs against the archived ones (dtype, rank, fixed dims),
// binds every symbol from the input dims that name it (one size per symbol across all
// inputs), then specializes graph 0 for those shapes: each op's infer() runs on concrete
// descs, the results are checked against the archived dims (fixed and named dims must
// match), kernels are created (constant weights packed once per Module through a shared
// WeightCache, never per specialization) and memory is planned. Specializations are kept
// in a small LRU keyed by the input shapes, so alternating shapes do not re-prepare and
// memory stays bounded by the capacity. Thread-safe: concurrent calls may look up, build
// and evict at once; a specialization in use stays alive until its call ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "archive/reader.h"
#include "cpu/cpu_features.h"
#include "deployrt/deployrt.h"
#include "graph/executor.h"
#include "ops/conv2d_winograd.h"
#include "ops/weight_cache.h"

namespace deployrt {

/// Graph 0 prepared for one set of concrete input shapes.
struct Specialization {
  std::unique_ptr<Executor> executor;
  std::vector<std::vector<int64_t>> output_shapes;
  double prepare_seconds = 0;  // time to specialize (inference, kernels, memory plan)
};

class ShapeSpecializer {
 public:
  /// True when some value of the archive has symbolic dims.
  static bool has_symbolic_dims(const archive::ArchiveView& view);
  /// kArchive when a graph input has an unnamed symbolic dim, or a value names a symbol
  /// that no graph input dim carries (nothing could bind it). `view` must outlive this.
  static Result<std::unique_ptr<ShapeSpecializer>> create(const archive::ArchiveView& view, size_t capacity,
                                                          uint64_t arena_limit, IsaLevel isa, int threads);

  /// Inputs and outputs of graph 0: symbolic dims are -1 in shape, named in dim_names.
  const std::vector<TensorInfo>& input_infos() const { return inputs_; }
  const std::vector<TensorInfo>& output_infos() const { return outputs_; }

  /// The specialization for these inputs (cached, or built now). kInput naming the input,
  /// dim, symbol, expected and actual size when the inputs do not fit; kInput naming the
  /// node when an op cannot take the shapes; kLimit when the arena would be too large.
  Result<std::shared_ptr<const Specialization>> get(const std::vector<Tensor>& args);

  size_t capacity() const { return capacity_; }
  /// Specializations currently cached, built so far and weight packings so far (tests).
  size_t cached() const;
  uint64_t built() const;
  uint64_t weight_packings() const { return weights_.packings(); }
  /// The packed weights of every specialization (the Module gives it the prepacked ones).
  WeightCache& weight_cache() { return weights_; }
  const WeightCache& weight_cache() const { return weights_; }
  /// Arena bytes of the most recently used specialization (0 before the first call).
  uint64_t last_arena_bytes() const;

 private:
  ShapeSpecializer(const archive::ArchiveView& view) : view_(view) {}
  Status bind(const std::vector<Tensor>& args, std::vector<int64_t>* symbols) const;
  Result<std::shared_ptr<const Specialization>> build(const std::vector<Tensor>& args,
                                                      const std::vector<int64_t>& symbols);

  const archive::ArchiveView& view_;
  size_t capacity_ = 1;
  uint64_t arena_limit_ = 0;
  IsaLevel isa_ = IsaLevel::kScalar;
  WinogradWeights winograd_ = WinogradWeights::kPacked;  // how its Winograd convs keep their weights
  int threads_ = 1;  // the Module's threads: kernels plan their per-thread workspace for them
  std::vector<std::string> symbol_names_;
  // Per value id: the symbol slot of each dim (-1: fixed or unnamed dynamic).
  std::vector<std::vector<int>> dim_symbols_;
  std::vector<uint32_t> input_ids_;
  std::vector<TensorInfo> inputs_, outputs_;
  WeightCache weights_;

  mutable std::mutex mutex_;
  // Most recently used first; a few entries, so a linear search is the fastest lookup.
  std::list<std::pair<std::vector<int64_t>, std::shared_ptr<const Specialization>>> lru_;
  uint64_t built_ = 0;
  uint64_t last_arena_bytes_ = 0;
};

}  // namespace deployrt
