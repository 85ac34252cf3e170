#include "graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/checked_math.h"
#include "core/str_cat.h"

namespace deployrt {

Result<std::unique_ptr<Executor>> Executor::create(const archive::ArchiveView& view, uint32_t graph_index,
                                                   std::vector<PreparedNode> nodes, uint64_t arena_limit,
                                                   const std::vector<TensorDesc>* value_descs) {
  auto ex = std::unique_ptr<Executor>(new Executor());
  auto value_desc = [&](const archive::ArchiveView& v, uint32_t id) {
    return value_descs != nullptr ? (*value_descs)[id] : deployrt::value_desc(v, id);
  };
  const archive::GraphEntry graph = view.graph(graph_index);
  const uint32_t num_steps = static_cast<uint32_t>(nodes.size());

  // A graph output written by a node of this graph, and listed once among the outputs,
  // goes straight into the caller's output buffer: no arena bytes and no copy. Outputs
  // that are graph inputs, constants or listed twice are copied at the end instead.
  constexpr uint32_t kNoBuffer = archive::kNone;
  std::vector<uint32_t> output_slot(view.value_count(), kNoBuffer);
  std::vector<uint32_t> listed(view.value_count(), 0);
  std::vector<bool> produced(view.value_count(), false);
  for (const PreparedNode& node : nodes) {
    for (uint32_t id : node.outputs) produced[id] = true;
  }
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.output_begin} + k);
    ++listed[id];
    output_slot[id] = k;
    ex->output_descs_.push_back(value_desc(view, id));
  }
  auto written_in_place = [&](uint32_t id) { return produced[id] && listed[id] == 1; };

  // Value id -> buffer request index (node outputs of this graph that live in the arena).
  std::vector<uint32_t> buffer_of(view.value_count(), kNoBuffer);
  std::vector<uint32_t> input_position(view.value_count(), kNoBuffer);
  std::vector<BufferRequest> requests;
  for (uint32_t k = 0; k < graph.input_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.input_begin} + k);
    input_position[id] = k;
    ex->input_descs_.push_back(value_desc(view, id));
  }
  for (uint32_t step = 0; step < num_steps; ++step) {
    for (uint32_t id : nodes[step].outputs) {
      if (written_in_place(id)) continue;
      buffer_of[id] = static_cast<uint32_t>(requests.size());
      const TensorDesc desc = value_desc(view, id);
      // The verifier proved numel x size fits in int64.
      requests.push_back({static_cast<uint64_t>(desc.numel()) * dtype_size(desc.dtype), step, step});
    }
    for (uint32_t id : nodes[step].inputs) {
      if (id != archive::kNone && buffer_of[id] != kNoBuffer) requests[buffer_of[id]].last = step;
    }
  }
  // Graph outputs kept in the arena stay live to the end: no later node may reuse them.
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.output_begin} + k);
    if (buffer_of[id] != kNoBuffer) requests[buffer_of[id]].last = num_steps;
  }
  // Each node's workspace is one more buffer, live during that node only: the planner
  // fits it between the activations live at that step (a stride-2 conv's scratch where the
  // large early activations have died), rather than stacking the largest one on top.
  std::vector<uint32_t> workspace_buffer(num_steps, kNoBuffer);
  for (uint32_t step = 0; step < num_steps; ++step) {
    const uint64_t bytes = nodes[step].kernel->workspace_bytes();
    if (bytes == 0) continue;
    workspace_buffer[step] = static_cast<uint32_t>(requests.size());
    requests.push_back({bytes, step, step});
  }
  Result<MemoryPlan> plan = plan_memory(requests, arena_limit);
  // Outputs written in place are not in the arena but are activation memory all the
  // same: the limit covers them too (BAD_INPUTS.md case 19).
  if (plan.ok()) {
    uint64_t total = plan.value().arena_bytes;
    for (uint32_t k = 0; k < graph.output_count; ++k) {
      const uint32_t id = view.index_at(uint64_t{graph.output_begin} + k);
      if (!written_in_place(id)) continue;
      const TensorDesc desc = value_desc(view, id);
      if (!checked_add(total, static_cast<uint64_t>(desc.numel()) * dtype_size(desc.dtype), &total) ||
          total > arena_limit) {
        return Status(ErrorCode::kLimit,
                      str_cat("the model needs an activation arena larger than the limit of ", arena_limit, " bytes (",
                              arena_limit >> 30, " GiB) for its intermediates and outputs"));
      }
    }
  }
  if (!plan.ok()) return plan.status();
  ex->plan_ = std::move(plan).value();

  // Small constants (biases, depthwise filters) are copied out of the archive. The loader
  // releases a mapped archive's pages once the weights are packed; a kernel that read a
  // bias in place would fault back in the whole page-cache folio around it, megabytes of
  // packed-away weights per fault (54 MB of ResNet-50's 97 MB came back that way on the
  // first forward). Large constants are mostly the weights kernels pack at load (bound in
  // place, never read); those a kernel does read at run time are listed for the loader,
  // which keeps them mapped (constants_read_in_place).
  constexpr size_t kResidentConstantBytes = size_t{64} << 10;
  std::vector<const void*> resident(view.value_count(), nullptr);
  std::vector<bool> read_listed(view.value_count(), false);  // in read_in_place_
  auto constant_data = [&](uint32_t id, const archive::ValueEntry& v, bool read) -> const void* {
    const void* in_archive = view.tensor_data(v.tensor);
    if (!read) return in_archive;  // its kernel packed it: never dereferenced
    const TensorDesc desc = value_desc(view, id);
    const size_t bytes = static_cast<size_t>(desc.numel()) * dtype_size(desc.dtype);
    if (bytes > kResidentConstantBytes && !read_listed[id]) {
      read_listed[id] = true;
      ex->read_in_place_.emplace_back(in_archive, bytes);
    }
    if (bytes == 0 || bytes > kResidentConstantBytes) return in_archive;
    if (resident[id] == nullptr) {
      AlignedBuffer copy(aligned_malloc_or_null(bytes));
      if (!copy) return in_archive;  // in place is as correct, only not released
      std::memcpy(copy.get(), in_archive, bytes);
      resident[id] = copy.get();
      ex->resident_constants_.push_back(std::move(copy));
    }
    return resident[id];
  };
  auto locate = [&](uint32_t id, bool read = true) {
    Location loc;
    if (id == archive::kNone) return loc;
    const archive::ValueEntry v = view.value(id);
    if (written_in_place(id)) {
      loc.where = Location::kGraphOutput;
      loc.index = output_slot[id];
    } else if (v.kind == archive::ValueKind::kConstant) {
      loc.where = Location::kConstant;
      loc.constant = constant_data(id, v, read);
    } else if (buffer_of[id] != kNoBuffer) {
      loc.where = Location::kArena;
      loc.index = ex->plan_.offsets[buffer_of[id]];
    } else {
      loc.where = Location::kGraphInput;  // the verifier proved it is an input of this graph
      loc.index = input_position[id];
    }
    return loc;
  };
  for (uint32_t s = 0; s < num_steps; ++s) {
    const PreparedNode& node = nodes[s];
    Step step;
    if (workspace_buffer[s] != kNoBuffer) step.workspace = ex->plan_.offsets[workspace_buffer[s]];
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      step.inputs.push_back(locate(node.inputs[k], node.kernel->reads_input(k)));
    }
    for (uint32_t id : node.outputs) step.outputs.push_back(locate(id));
    // prepare_graph looked every node's op up: find_op is non-null here.
    const OpDef* def = find_op(static_cast<uint32_t>(node.info.op));
    ex->max_inputs_ = std::max(ex->max_inputs_, def->input_slots(step.inputs.size()));
    ex->max_outputs_ = std::max(ex->max_outputs_, step.outputs.size());
    ex->steps_.push_back(std::move(step));
  }
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    ex->output_locations_.push_back(locate(view.index_at(uint64_t{graph.output_begin} + k)));
  }
  ex->nodes_ = std::move(nodes);
  return Result<std::unique_ptr<Executor>>(std::move(ex));
}

void* Executor::resolve(const Location& loc, const std::vector<const void*>& inputs,
                        const std::vector<void*>& outputs, uint8_t* arena) const {
  switch (loc.where) {
    case Location::kAbsent: return nullptr;
    // Kernels only read inputs; TensorRef is non-const so one type serves both directions.
    case Location::kGraphInput: return const_cast<void*>(inputs[loc.index]);
    case Location::kConstant: return const_cast<void*>(loc.constant);
    case Location::kArena: return arena + loc.index;
    case Location::kGraphOutput: return outputs[loc.index];
  }
  return nullptr;
}

void Executor::run(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                   const std::vector<void*>& outputs, double* node_seconds, const Observer* observe) const {
  std::vector<TensorRef> in(max_inputs_), out(max_outputs_);
  // Slots past a node's own inputs are empty (OpDef::input_slots): the previous node's
  // extra entries are cleared, so only [0, filled) can be non-empty.
  size_t filled = 0;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    const NodeInfo& info = nodes_[s].info;
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      in[k] = {resolve(step.inputs[k], inputs, outputs, arena), &info.inputs[k]};
    }
    for (size_t k = step.inputs.size(); k < filled; ++k) in[k] = {};
    filled = step.inputs.size();
    for (size_t k = 0; k < step.outputs.size(); ++k) {
      out[k] = {resolve(step.outputs[k], inputs, outputs, arena), &info.outputs[k]};
    }
    void* workspace = arena + step.workspace;
    if (node_seconds != nullptr) {
      const auto start = std::chrono::steady_clock::now();
      nodes_[s].kernel->run(in.data(), out.data(), workspace, pool);
      node_seconds[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
      nodes_[s].kernel->run(in.data(), out.data(), workspace, pool);
    }
    if (observe != nullptr) (*observe)(s, out.data());
  }
  // The remaining outputs (graph inputs, constants, values listed twice) are copied,
  // never aliased: the arena is reused by the next call.
  for (size_t k = 0; k < output_locations_.size(); ++k) {
    const Location& loc = output_locations_[k];
    if (loc.where == Location::kGraphOutput && loc.index == k) continue;  // written in place
    const size_t bytes = static_cast<size_t>(output_descs_[k].numel()) * dtype_size(output_descs_[k].dtype);
    if (bytes > 0) std::memcpy(outputs[k], resolve(loc, inputs, outputs, arena), bytes);
  }
}

}  // namespace deployrt
