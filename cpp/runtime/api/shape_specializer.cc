#include "api/shape_specializer.h"

#include <chrono>
#include <utility>

#include "core/checked_math.h"
#include "core/str_cat.h"
#include "graph/graph_builder.h"

namespace deployrt {
namespace {

using archive::ArchiveView;

std::string input_label(const TensorInfo& info, size_t i) {
  return str_cat("input ", i, info.name.empty() ? "" : str_cat(" '", info.name, "'"));
}

// "f32[N,3,H,W]"
std::string pattern_text(const TensorInfo& info) {
  std::string s = str_cat(dtype_name(info.dtype), "[");
  for (size_t k = 0; k < info.shape.size(); ++k) {
    s += k ? "," : "";
    s += info.shape[k] >= 0 ? str_cat(info.shape[k]) : info.dim_names[k];
  }
  return s + "]";
}

std::string shape_text(const Tensor& t) {
  std::string s = str_cat(dtype_name(t.dtype()), "[");
  for (size_t k = 0; k < t.shape().size(); ++k) s += str_cat(k ? "," : "", t.shape()[k]);
  return s + "]";
}

}  // namespace

bool ShapeSpecializer::has_symbolic_dims(const ArchiveView& view) {
  for (uint32_t id = 0; id < view.value_count(); ++id) {
    if ((view.value(id).flags & archive::kValueFlagSymbolic) != 0) return true;
  }
  return false;
}

Result<std::unique_ptr<ShapeSpecializer>> ShapeSpecializer::create(const ArchiveView& view, size_t capacity,
                                                                   uint64_t arena_limit, IsaLevel isa,
                                                                   int threads) {
  std::unique_ptr<ShapeSpecializer> s(new ShapeSpecializer(view));
  s->capacity_ = capacity < 1 ? 1 : capacity;
  s->arena_limit_ = arena_limit;
  s->isa_ = isa;
  s->winograd_ = winograd_weights_mode();  // the loader's (LoadOptions::compact_weights)
  s->threads_ = threads < 1 ? 1 : threads;
  std::map<std::string, int> slot_of;  // symbol name -> slot
  const archive::GraphEntry graph = view.graph(0);
  auto info_of = [&](uint32_t id, bool is_input) -> Result<TensorInfo> {
    const archive::ValueEntry v = view.value(id);
    TensorInfo info;
    info.name = std::string(view.string(v.name));
    info.dtype = v.dtype;
    info.shape.assign(v.dims, v.dims + v.rank);
    if ((v.flags & archive::kValueFlagSymbolic) == 0) return info;
    info.dim_names.assign(v.rank, "");
    for (int k = 0; k < v.rank; ++k) {
      if (v.dims[k] >= 0) continue;
      const uint32_t name = static_cast<uint32_t>(archive::symbolic_dim_name(v.dims[k]));
      info.shape[k] = -1;
      info.dim_names[k] = name == 0 ? "?" : std::string(view.string(name));
      if (is_input && name == 0) {
        return Status(ErrorCode::kArchive, str_cat("graph 0 input ", info.name, " (value ", id, "): dim ", k,
                                                   " is dynamic without a name; input dims must be fixed or named"));
      }
    }
    return info;
  };
  for (uint32_t k = 0; k < graph.input_count; ++k) {
    const uint32_t id = view.index_at(uint64_t{graph.input_begin} + k);
    Result<TensorInfo> info = info_of(id, true);
    if (!info.ok()) return info.status();
    for (const std::string& name : info.value().dim_names) {
      if (!name.empty() && slot_of.emplace(name, static_cast<int>(s->symbol_names_.size())).second) {
        s->symbol_names_.push_back(name);
      }
    }
    s->input_ids_.push_back(id);
    s->inputs_.push_back(std::move(info).value());
  }
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    Result<TensorInfo> info = info_of(view.index_at(uint64_t{graph.output_begin} + k), false);
    if (!info.ok()) return info.status();
    s->outputs_.push_back(std::move(info).value());
  }
  s->dim_symbols_.resize(view.value_count());
  for (uint32_t id = 0; id < view.value_count(); ++id) {
    const archive::ValueEntry v = view.value(id);
    if ((v.flags & archive::kValueFlagSymbolic) == 0) continue;
    s->dim_symbols_[id].assign(v.rank, -1);
    for (int k = 0; k < v.rank; ++k) {
      const uint32_t name = v.dims[k] < 0 ? static_cast<uint32_t>(archive::symbolic_dim_name(v.dims[k])) : 0;
      if (name == 0) continue;
      auto it = slot_of.find(std::string(view.string(name)));
      if (it == slot_of.end()) {
        return Status(ErrorCode::kArchive, str_cat("value ", id, " '", view.string(v.name), "': dim ", k, " names symbol '",
                                                   view.string(name), "', which no input of graph 0 has"));
      }
      s->dim_symbols_[id][k] = it->second;
    }
  }
  return s;
}

Status ShapeSpecializer::bind(const std::vector<Tensor>& args, std::vector<int64_t>* symbols) const {
  if (args.size() != inputs_.size()) {
    return Status(ErrorCode::kInput, str_cat("expected ", inputs_.size(), " inputs, got ", args.size()));
  }
  symbols->assign(symbol_names_.size(), -1);
  std::vector<std::string> bound_by(symbol_names_.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const TensorInfo& want = inputs_[i];
    const Tensor& got = args[i];
    const std::string label = input_label(want, i);
    if (got.dtype() != want.dtype || got.rank() != static_cast<int>(want.shape.size())) {
      return Status(ErrorCode::kInput, str_cat(label, ": expected ", pattern_text(want), ", got ", shape_text(got)));
    }
    const std::vector<int>& slots = dim_symbols_[input_ids_[i]];
    for (size_t k = 0; k < want.shape.size(); ++k) {
      const int64_t size = got.shape()[k];
      if (size < 0) return Status(ErrorCode::kInput, str_cat(label, ": dim ", k, " is negative (", size, ")"));
      if (want.shape[k] >= 0) {
        if (size != want.shape[k]) {
          return Status(ErrorCode::kInput, str_cat(label, ": dim ", k, " is ", size, ", the model needs ", want.shape[k],
                                                   " (expected ", pattern_text(want), ", got ", shape_text(got), ")"));
        }
        continue;
      }
      const int slot = slots[k];
      int64_t& bound = (*symbols)[slot];
      if (bound < 0) {
        bound = size;
        bound_by[slot] = str_cat(label, " dim ", k);
      } else if (bound != size) {
        return Status(ErrorCode::kInput, str_cat(label, ": dim ", k, " (symbol ", symbol_names_[slot], ") is ", size,
                                                 ", but ", symbol_names_[slot], " = ", bound, " from ", bound_by[slot],
                                                 " (expected ", pattern_text(want), ", got ", shape_text(got), ")"));
      }
    }
    if (got.data() == nullptr && got.nbytes() > 0) return Status(ErrorCode::kInput, label + ": data pointer is null");
  }
  return Status::Ok();
}

Result<std::shared_ptr<const Specialization>> ShapeSpecializer::build(const std::vector<Tensor>& args,
                                                                      const std::vector<int64_t>& symbols) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<TensorDesc> descs(view_.value_count());
  for (uint32_t id = 0; id < view_.value_count(); ++id) {
    descs[id] = value_desc(view_, id);
    const std::vector<int>& slots = dim_symbols_[id];
    for (size_t k = 0; k < slots.size(); ++k) {
      if (descs[id].dims[k] < 0) descs[id].dims[k] = slots[k] >= 0 ? symbols[slots[k]] : -1;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    TensorDesc& d = descs[input_ids_[i]];
    for (int k = 0; k < d.rank; ++k) d.dims[k] = args[i].shape()[k];
  }
  auto fail = [&](const Status& st) {
    std::string shapes;
    for (size_t i = 0; i < args.size(); ++i) shapes += str_cat(i ? ", " : "", input_label(inputs_[i], i), " ", shape_text(args[i]));
    return Status(st.code(), str_cat("the model cannot take ", shapes, ": ", st.message()));
  };
  ScopedIsaCap cap(isa_);  // the kernels this Module chose at load, for every shape
  ScopedKernelThreads threads(threads_);
  ScopedWinogradWeights winograd(winograd_);
  ShapeBinding binding;
  binding.value_descs = &descs;
  binding.weight_cache = &weights_;
  Result<std::vector<PreparedNode>> nodes = prepare_graph(view_, 0, binding);
  if (!nodes.ok()) return fail(nodes.status());
  Result<std::unique_ptr<Executor>> executor = Executor::create(view_, 0, std::move(nodes).value(), arena_limit_, &descs);
  if (!executor.ok()) return fail(executor.status());
  auto spec = std::make_shared<Specialization>();
  spec->executor = std::move(executor).value();
  for (const TensorDesc& d : spec->executor->output_descs()) spec->output_shapes.emplace_back(d.dims, d.dims + d.rank);
  spec->prepare_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::shared_ptr<const Specialization>(std::move(spec));
}

Result<std::shared_ptr<const Specialization>> ShapeSpecializer::get(const std::vector<Tensor>& args) {
  std::vector<int64_t> symbols;
  Status bound = bind(args, &symbols);
  if (!bound.ok()) return bound;
  std::vector<int64_t> key;
  for (const Tensor& t : args) key.insert(key.end(), t.shape().begin(), t.shape().end());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = lru_.begin(); it != lru_.end(); ++it) {
      if (it->first == key) {
        lru_.splice(lru_.begin(), lru_, it);
        last_arena_bytes_ = it->second->executor->arena_bytes();
        return it->second;
      }
    }
  }
  // Built outside the lock: other shapes keep running meanwhile. Two calls that miss on
  // the same shape at once both build; the first to finish is cached, the other's copy
  // serves its own call and is dropped (weights are shared, so nothing is packed twice).
  Result<std::shared_ptr<const Specialization>> made = build(args, symbols);
  if (!made.ok()) return made.status();
  std::lock_guard<std::mutex> lock(mutex_);
  ++built_;
  last_arena_bytes_ = made.value()->executor->arena_bytes();
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if (it->first == key) return it->second;
  }
  lru_.emplace_front(std::move(key), made.value());
  while (lru_.size() > capacity_) lru_.pop_back();  // in-flight calls keep their copy alive
  return made;
}

size_t ShapeSpecializer::cached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

uint64_t ShapeSpecializer::built() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return built_;
}

uint64_t ShapeSpecializer::last_arena_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_arena_bytes_;
}

}  // namespace deployrt
