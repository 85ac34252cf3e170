// Runs the prepared nodes of one graph in order over a planned arena. Immutable after
// create(): run() is const and touches only the arena, the caller's inputs and the
// returned outputs, so one Executor serves every forward() of a Module.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "archive/reader.h"
#include "graph/graph_builder.h"
#include "graph/memory_planner.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

class Executor {
 public:
  /// Plans memory for `nodes` (graph `graph_index` of `view`); kLimit when the arena
  /// would exceed `arena_limit`. `view` must outlive the Executor (constants point into it).
  static Result<std::unique_ptr<Executor>> create(const archive::ArchiveView& view, uint32_t graph_index,
                                                  std::vector<PreparedNode> nodes, uint64_t arena_limit);

  uint64_t arena_bytes() const { return plan_.arena_bytes; }
  size_t num_nodes() const { return nodes_.size(); }
  const std::vector<TensorDesc>& input_descs() const { return input_descs_; }
  const std::vector<TensorDesc>& output_descs() const { return output_descs_; }

  /// `inputs[i]` points at graph input i (already checked against input_descs());
  /// `arena` holds arena_bytes(), 64-byte aligned. Writes each graph output into
  /// `outputs[i]`, which must already hold output_descs()[i].nbytes bytes.
  void run(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
           const std::vector<void*>& outputs) const {
    run_impl<false>(inputs, arena, pool, outputs, nullptr);
  }
  /// run(), also adding each node's wall time in seconds to node_seconds[node]
  /// (num_nodes() entries). A separate instantiation, so run() pays nothing for it.
  void run_profiled(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                    const std::vector<void*>& outputs, double* node_seconds) const {
    run_impl<true>(inputs, arena, pool, outputs, node_seconds);
  }
  /// run(), also calling `observe(step, outputs)` right after node `step` ran, with its
  /// outputs (valid only during the call: the arena is reused). For debugging
  /// (Module::try_forward_debug); a separate loop, so run() pays nothing for it.
  void run_observed(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                    const std::vector<void*>& outputs,
                    const std::function<void(size_t, const TensorRef*)>& observe) const;
  /// Value ids of node `index`'s outputs.
  const std::vector<uint32_t>& node_output_ids(size_t index) const { return nodes_[index].outputs; }
  /// What node `index` (execution order) is: its name, op and shapes.
  const NodeInfo& node_info(size_t index) const { return nodes_[index].info; }

 private:
  // Where a value's bytes are during a run.
  struct Location {
    enum Where : uint8_t { kAbsent, kGraphInput, kConstant, kArena } where = kAbsent;
    uint64_t index = 0;             // graph input position, or arena offset
    const void* constant = nullptr;  // kConstant: into the archive
  };
  struct Step {
    std::vector<Location> inputs;
    std::vector<uint64_t> output_offsets;
  };

  template <bool kProfile>
  void run_impl(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                const std::vector<void*>& outputs, double* node_seconds) const;
  void* resolve(const Location& loc, const std::vector<const void*>& inputs, uint8_t* arena) const;

  std::vector<PreparedNode> nodes_;
  std::vector<Step> steps_;
  std::vector<Location> output_locations_;
  std::vector<TensorDesc> input_descs_, output_descs_;
  MemoryPlan plan_;
  size_t max_inputs_ = 0, max_outputs_ = 0;
};

}  // namespace deployrt
