// Runs the prepared nodes of one graph in order over a planned arena. Immutable after
// create(): run() is const and touches only the arena, the caller's inputs and the
// returned outputs, so one Executor serves every forward() of a Module.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "archive/reader.h"
#include "core/aligned_alloc.h"
#include "graph/graph_builder.h"
#include "graph/memory_planner.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

class Executor {
 public:
  /// Plans memory for `nodes` (graph `graph_index` of `view`); kLimit when the arena
  /// would exceed `arena_limit`. `view` must outlive the Executor (constants point into it).
  /// With `value_descs` (one per value id: a shape specialization's concrete descs, see
  /// ShapeBinding), buffers are sized from them instead of the archived value entries.
  static Result<std::unique_ptr<Executor>> create(const archive::ArchiveView& view, uint32_t graph_index,
                                                  std::vector<PreparedNode> nodes, uint64_t arena_limit,
                                                  const std::vector<TensorDesc>* value_descs = nullptr);

  uint64_t arena_bytes() const { return plan_.arena_bytes; }
  size_t num_nodes() const { return nodes_.size(); }
  const std::vector<TensorDesc>& input_descs() const { return input_descs_; }
  const std::vector<TensorDesc>& output_descs() const { return output_descs_; }

  /// Called right after node `step` ran, with its outputs (valid only during the call:
  /// the arena is reused). For debugging (Module::try_forward_debug).
  using Observer = std::function<void(size_t step, const TensorRef* outputs)>;

  /// `inputs[i]` points at graph input i (already checked against input_descs());
  /// `arena` holds arena_bytes(), 64-byte aligned. Writes each graph output into
  /// `outputs[i]`, which must hold output_descs()[i].nbytes bytes and overlap no input
  /// and no other output: most graph outputs are written there directly by the node
  /// that produces them (never staged in the arena and copied).
  /// With `node_seconds` (num_nodes() entries), adds each node's wall time in seconds;
  /// with `observe`, calls it after each node. Both cost one untaken branch when null.
  void run(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
           const std::vector<void*>& outputs, double* node_seconds = nullptr,
           const Observer* observe = nullptr) const;
  /// Value ids of node `index`'s outputs.
  const std::vector<uint32_t>& node_output_ids(size_t index) const { return nodes_[index].outputs; }
  /// What node `index` (execution order) is: its name, op and shapes.
  const NodeInfo& node_info(size_t index) const { return nodes_[index].info; }
  /// The constants kernels read at run time straight from the archive (too large to copy):
  /// (data, bytes), each once. A loader that releases the map's pages keeps these.
  const std::vector<std::pair<const void*, size_t>>& constants_read_in_place() const { return read_in_place_; }
  /// The bytes input `k` of node `index` is bound to when it is a constant (null otherwise):
  /// the archive's own bytes, or a resident copy (tests check which).
  const void* constant_input(size_t index, size_t k) const {
    const Location& loc = steps_[index].inputs[k];
    return loc.where == Location::kConstant ? loc.constant : nullptr;
  }

 private:
  // Where a value's bytes are during a run.
  struct Location {
    enum Where : uint8_t { kAbsent, kGraphInput, kConstant, kArena, kGraphOutput } where = kAbsent;
    uint64_t index = 0;             // graph input or output position, or arena offset
    const void* constant = nullptr;  // kConstant: into the archive, or a resident copy
  };
  struct Step {
    std::vector<Location> inputs;
    std::vector<Location> outputs;  // kArena or kGraphOutput
    uint64_t workspace = 0;         // arena offset of the kernel's workspace (any, when it needs none)
  };

  void* resolve(const Location& loc, const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                uint8_t* arena) const;

  std::vector<PreparedNode> nodes_;
  std::vector<Step> steps_;
  std::vector<Location> output_locations_;
  std::vector<TensorDesc> input_descs_, output_descs_;
  MemoryPlan plan_;
  size_t max_inputs_ = 0, max_outputs_ = 0;
  // Copies of the small constants (Executor::create, kResidentConstantBytes): kConstant
  // locations of those point here, not into the archive.
  std::vector<AlignedBuffer> resident_constants_;
  std::vector<std::pair<const void*, size_t>> read_in_place_;
};

}  // namespace deployrt
