#include "graph/executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/str_cat.h"

namespace deployrt {

Result<std::unique_ptr<Executor>> Executor::create(const archive::ArchiveView& view, uint32_t graph_index,
                                                   std::vector<PreparedNode> nodes, uint64_t arena_limit) {
  auto ex = std::unique_ptr<Executor>(new Executor());
  const archive::GraphEntry graph = view.graph(graph_index);
  const uint32_t num_steps = static_cast<uint32_t>(nodes.size());

  // Value id -> buffer request index (only node outputs of this graph get one).
  constexpr uint32_t kNoBuffer = archive::kNone;
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
      buffer_of[id] = static_cast<uint32_t>(requests.size());
      const TensorDesc desc = value_desc(view, id);
      // The verifier proved numel x size fits in int64.
      requests.push_back({static_cast<uint64_t>(desc.numel()) * dtype_size(desc.dtype), step, step});
    }
    for (uint32_t id : nodes[step].inputs) {
      if (id != archive::kNone && buffer_of[id] != kNoBuffer) requests[buffer_of[id]].last = step;
    }
  }
  // Graph outputs stay live to the end: no later node may reuse their bytes.
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.output_begin} + k);
    if (buffer_of[id] != kNoBuffer) requests[buffer_of[id]].last = num_steps;
    ex->output_descs_.push_back(value_desc(view, id));
  }
  uint64_t workspace = 0;
  for (const PreparedNode& node : nodes) workspace = std::max<uint64_t>(workspace, node.kernel->workspace_bytes());
  Result<MemoryPlan> plan = plan_memory(requests, workspace, arena_limit);
  if (!plan.ok()) return plan.status();
  ex->plan_ = std::move(plan).value();

  auto locate = [&](uint32_t id) {
    Location loc;
    if (id == archive::kNone) return loc;
    const archive::ValueEntry v = view.value(id);
    if (v.kind == archive::ValueKind::kConstant) {
      loc.where = Location::kConstant;
      loc.constant = view.tensor_data(v.tensor);
    } else if (buffer_of[id] != kNoBuffer) {
      loc.where = Location::kArena;
      loc.index = ex->plan_.offsets[buffer_of[id]];
    } else {
      loc.where = Location::kGraphInput;  // the verifier proved it is an input of this graph
      loc.index = input_position[id];
    }
    return loc;
  };
  for (const PreparedNode& node : nodes) {
    Step step;
    for (uint32_t id : node.inputs) step.inputs.push_back(locate(id));
    for (uint32_t id : node.outputs) step.output_offsets.push_back(ex->plan_.offsets[buffer_of[id]]);
    ex->max_inputs_ = std::max(ex->max_inputs_, step.inputs.size());
    ex->max_outputs_ = std::max(ex->max_outputs_, step.output_offsets.size());
    ex->steps_.push_back(std::move(step));
  }
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    ex->output_locations_.push_back(locate(view.index_at(uint64_t{graph.output_begin} + k)));
  }
  ex->nodes_ = std::move(nodes);
  return Result<std::unique_ptr<Executor>>(std::move(ex));
}

void* Executor::resolve(const Location& loc, const std::vector<const void*>& inputs, uint8_t* arena) const {
  switch (loc.where) {
    case Location::kAbsent: return nullptr;
    // Kernels only read inputs; TensorRef is non-const so one type serves both directions.
    case Location::kGraphInput: return const_cast<void*>(inputs[loc.index]);
    case Location::kConstant: return const_cast<void*>(loc.constant);
    case Location::kArena: return arena + loc.index;
  }
  return nullptr;
}

template <bool kProfile>
void Executor::run_impl(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                        const std::vector<void*>& outputs, double* node_seconds) const {
  std::vector<TensorRef> in(max_inputs_), out(max_outputs_);
  void* workspace = arena + plan_.workspace_offset;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    const NodeInfo& info = nodes_[s].info;
    for (size_t k = 0; k < step.inputs.size(); ++k) in[k] = {resolve(step.inputs[k], inputs, arena), &info.inputs[k]};
    for (size_t k = 0; k < step.output_offsets.size(); ++k) out[k] = {arena + step.output_offsets[k], &info.outputs[k]};
    if constexpr (kProfile) {
      const auto start = std::chrono::steady_clock::now();
      nodes_[s].kernel->run(in.data(), out.data(), workspace, pool);
      node_seconds[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
      nodes_[s].kernel->run(in.data(), out.data(), workspace, pool);
    }
  }
  // Copies, never aliases: an output may be a graph input or a constant, and the
  // arena is reused by the next call.
  for (size_t k = 0; k < output_locations_.size(); ++k) {
    const size_t bytes = static_cast<size_t>(output_descs_[k].numel()) * dtype_size(output_descs_[k].dtype);
    if (bytes > 0) std::memcpy(outputs[k], resolve(output_locations_[k], inputs, arena), bytes);
  }
}

void Executor::run_observed(const std::vector<const void*>& inputs, uint8_t* arena, ThreadPool& pool,
                            const std::vector<void*>& outputs,
                            const std::function<void(size_t, const TensorRef*)>& observe) const {
  std::vector<TensorRef> in(max_inputs_), out(max_outputs_);
  void* workspace = arena + plan_.workspace_offset;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    const NodeInfo& info = nodes_[s].info;
    for (size_t k = 0; k < step.inputs.size(); ++k) in[k] = {resolve(step.inputs[k], inputs, arena), &info.inputs[k]};
    for (size_t k = 0; k < step.output_offsets.size(); ++k) out[k] = {arena + step.output_offsets[k], &info.outputs[k]};
    nodes_[s].kernel->run(in.data(), out.data(), workspace, pool);
    observe(s, out.data());
  }
  for (size_t k = 0; k < output_locations_.size(); ++k) {
    const size_t bytes = static_cast<size_t>(output_descs_[k].numel()) * dtype_size(output_descs_[k].dtype);
    if (bytes > 0) std::memcpy(outputs[k], resolve(output_locations_[k], inputs, arena), bytes);
  }
}

template void Executor::run_impl<false>(const std::vector<const void*>&, uint8_t*, ThreadPool&,
                                        const std::vector<void*>&, double*) const;
template void Executor::run_impl<true>(const std::vector<const void*>&, uint8_t*, ThreadPool&,
                                       const std::vector<void*>&, double*) const;

}  // namespace deployrt
