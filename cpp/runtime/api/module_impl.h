// Module::Impl: owns the archive bytes (a memory map, or an aligned copy), the verified
// view, the prepared graph, the thread pool and the pool of per-call arenas. Internal header:
// tests and the bindings may use load_from_memory; applications use deployrt.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/run_context.h"
#include "api/shape_specializer.h"
#include "archive/mmap_file.h"
#include "archive/reader.h"
#include "archive/test_vectors.h"
#include "core/aligned_alloc.h"
#include "cpu/cpu_features.h"
#include "deployrt/deployrt.h"
#include "graph/executor.h"
#include "ops/weight_cache.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

class Module::Impl {
 public:
  static Result<Module> load_file(const std::string& path, const LoadOptions& options);
  /// Copies `size` bytes into a 64-byte aligned buffer first ("copy-on-load"): the
  /// module does not depend on the caller's buffer, and a file that might be truncated
  /// while mapped can be read and passed here instead.
  static Result<Module> load_from_memory(const void* data, size_t size, const LoadOptions& options);

  /// With node_seconds (num_nodes() entries), adds each node's wall time to it.
  Result<std::vector<Tensor>> forward(const std::vector<Tensor>& inputs, double* node_seconds = nullptr) const;
  Result<std::vector<NodeProfile>> profile(const std::vector<Tensor>& inputs, int runs) const;
  Status forward_into(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const;
  Result<std::vector<DebugValue>> forward_debug(const std::vector<Tensor>& inputs) const;
  Result<SelftestReport> selftest() const;
  size_t num_test_vectors() const { return test_vectors_.vectors.size(); }

  std::vector<TensorInfo> inputs, outputs;
  std::string metadata;
  int num_threads = 1;
  IsaLevel isa = IsaLevel::kScalar;  // what the kernels were chosen for (LoadOptions::max_isa)

  uint64_t arena_bytes() const { return dynamic_ ? dynamic_->last_arena_bytes() : executor_->arena_bytes(); }
  size_t num_nodes() const { return dynamic_ ? view_.graph(0).node_count : executor_->num_nodes(); }
  /// The implementation behind a Module (null when empty); for tests.
  static const Impl* of(const Module& module) { return module.impl_.get(); }
  /// Non-null when the archive has symbolic dims (tests read its counters).
  const ShapeSpecializer* specializer() const { return dynamic_.get(); }
  /// The packed weights the ops read (prepacked in place or packed at load): tests and
  /// prepack_weights (api/prepack.h) read it.
  const WeightCache& weight_cache() const { return dynamic_ ? dynamic_->weight_cache() : weights_; }
  const archive::ArchiveView& view() const { return view_; }

 private:
  // Verifies and prepares the bytes already held by *this.
  static Result<Module> finish_load(std::shared_ptr<Impl> impl, const uint8_t* data, size_t size,
                                    const LoadOptions& options);

  // What one call runs: the static executor, or the specialization for the inputs' shapes.
  struct Call {
    std::vector<const void*> input_data;
    const Executor* executor = nullptr;
    std::shared_ptr<const Specialization> specialization;  // keeps it alive if evicted meanwhile
    const std::vector<int64_t>& output_shape(size_t i) const {
      return specialization ? specialization->output_shapes[i] : outputs_of->at(i).shape;
    }
    const std::vector<TensorInfo>* outputs_of = nullptr;
  };

  // forward's halves: check the caller's inputs against inputs() and pick the executor;
  // run on a per-call context writing the graph outputs to output_data (profiled or
  // observed if asked).
  Status check_inputs(const std::vector<Tensor>& args, std::vector<const void*>* input_data) const;
  Status begin_call(const std::vector<Tensor>& args, Call* call) const;
  Status execute(const Call& call, const std::vector<void*>& output_data, double* node_seconds,
                 const std::function<void(size_t, const TensorRef*)>* observe = nullptr) const;

  archive::MmapFile file_;
  AlignedBuffer copy_;
  archive::ArchiveView view_;
  archive::TestVectors test_vectors_;  // empty unless the archive has a TEST_VECTORS section
  WeightCache weights_;  // static archives; its in-place entries point into file_ / copy_
  std::unique_ptr<Executor> executor_;           // static archives
  mutable std::unique_ptr<ShapeSpecializer> dynamic_;  // archives with symbolic dims (format 1.2)
  std::unique_ptr<ThreadPool> pool_;
  // Concurrency (deployrt.h "Thread rules"): each forward() takes its own arena from
  // contexts_, so calls run in parallel. The intra-op pool serves one call at a time:
  // the call that sets pool_busy_ uses it, concurrent ones run inline on their thread.
  mutable std::unique_ptr<RunContextPool> contexts_;
  mutable std::atomic<bool> pool_busy_{false};
};

}  // namespace deployrt
