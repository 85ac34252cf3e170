// deployrt::Module: load = map -> verify -> prepare ops -> plan memory; forward =
// check inputs -> run the executor under the module's mutex -> return fresh outputs.
#include <algorithm>
#include <cstring>
#include <new>
#include <thread>

#include "api/module_impl.h"
#include "core/limits.h"
#include "core/str_cat.h"
#include "graph/graph_builder.h"

namespace deployrt {
namespace {

std::string describe(DType dtype, const std::vector<int64_t>& shape) {
  std::string s = str_cat(dtype_name(dtype), "[");
  for (size_t i = 0; i < shape.size(); ++i) s += str_cat(i ? "," : "", shape[i]);
  return s + "]";
}

TensorInfo info_of(const archive::ArchiveView& view, uint32_t value_id) {
  TensorDesc desc = value_desc(view, value_id);
  TensorInfo info;
  info.name = std::string(view.string(view.value(value_id).name));
  info.dtype = desc.dtype;
  info.shape.assign(desc.dims, desc.dims + desc.rank);
  return info;
}

const std::vector<TensorInfo>& no_infos() {
  static const std::vector<TensorInfo> empty;
  return empty;
}

Status not_loaded() { return Status(ErrorCode::kInternal, "Module is empty (default-constructed, not loaded)"); }

}  // namespace

Result<Module> Module::Impl::finish_load(std::shared_ptr<Impl> impl, const uint8_t* data, size_t size,
                                         const LoadOptions& options) {
  if (options.num_threads < 0) {
    return Status(ErrorCode::kInput, str_cat("LoadOptions.num_threads is ", options.num_threads, ", expected >= 0"));
  }
  Result<archive::ArchiveView> view = archive::ArchiveView::verify(data, size);
  if (!view.ok()) return view.status();
  impl->view_ = view.value();
  Result<std::vector<PreparedNode>> nodes = prepare_graph(impl->view_, 0);
  if (!nodes.ok()) return nodes.status();
  Result<std::unique_ptr<Executor>> executor =
      Executor::create(impl->view_, 0, std::move(nodes).value(), limits::kMaxArenaBytes);
  if (!executor.ok()) return executor.status();
  impl->executor_ = std::move(executor).value();

  const archive::GraphEntry graph = impl->view_.graph(0);
  for (uint32_t k = 0; k < graph.input_count; ++k) {
    impl->inputs.push_back(info_of(impl->view_, impl->view_.index_at(uint64_t{graph.input_begin} + k)));
  }
  for (uint32_t k = 0; k < graph.output_count; ++k) {
    impl->outputs.push_back(info_of(impl->view_, impl->view_.index_at(uint64_t{graph.output_begin} + k)));
  }
  impl->metadata = std::string(impl->view_.metadata());
  impl->num_threads = options.num_threads > 0 ? options.num_threads
                                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  impl->pool_ = std::make_unique<ThreadPool>(impl->num_threads);
  return Module(std::move(impl));
}

Result<Module> Module::Impl::load_file(const std::string& path, const LoadOptions& options) {
  Result<archive::MmapFile> file = archive::MmapFile::open(path);
  if (!file.ok()) return file.status();
  auto impl = std::make_shared<Impl>();
  impl->file_ = std::move(file).value();
  const uint8_t* data = impl->file_.data();
  const size_t size = impl->file_.size();
  Result<Module> module = finish_load(std::move(impl), data, size, options);
  if (!module.ok()) return Status(module.status().code(), str_cat(path, ": ", module.status().message()));
  return module;
}

Result<Module> Module::Impl::load_from_memory(const void* data, size_t size, const LoadOptions& options) {
  auto impl = std::make_shared<Impl>();
  if (size > limits::kMaxFileBytes) {
    return Status(ErrorCode::kLimit, str_cat("archive is ", size, " bytes; the limit is ", limits::kMaxFileBytes));
  }
  impl->copy_.reset(aligned_malloc_or_null(size));
  if (!impl->copy_) return Status(ErrorCode::kLimit, str_cat("cannot allocate ", size, " bytes for the archive copy"));
  if (size > 0) std::memcpy(impl->copy_.get(), data, size);
  const auto* bytes = static_cast<const uint8_t*>(impl->copy_.get());
  return finish_load(std::move(impl), bytes, size, options);
}

Result<std::vector<Tensor>> Module::Impl::forward(const std::vector<Tensor>& args) const {
  if (args.size() != inputs.size()) {
    return Status(ErrorCode::kInput, str_cat("expected ", inputs.size(), " inputs, got ", args.size()));
  }
  std::vector<const void*> input_data(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const TensorInfo& want = inputs[i];
    const Tensor& got = args[i];
    const std::string label = str_cat("input ", i, want.name.empty() ? "" : str_cat(" '", want.name, "'"));
    if (got.dtype() != want.dtype || got.shape() != want.shape) {
      return Status(ErrorCode::kInput, str_cat(label, ": expected ", describe(want.dtype, want.shape), ", got ",
                                               describe(got.dtype(), got.shape())));
    }
    if (got.data() == nullptr && got.nbytes() > 0) return Status(ErrorCode::kInput, label + ": data pointer is null");
    input_data[i] = got.data();
  }
  std::vector<Tensor> results;
  std::vector<void*> output_data;
  try {  // Tensor::empty reports out-of-memory with std::bad_alloc; nothing escapes here
    for (const TensorInfo& out : outputs) {
      results.push_back(Tensor::empty(out.dtype, out.shape));
      output_data.push_back(results.back().data());
    }
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimit, "out of memory allocating the outputs");
  }
  std::lock_guard<std::mutex> lock(run_mutex_);
  if (!arena_ && executor_->arena_bytes() > 0) {
    arena_.reset(aligned_malloc_or_null(executor_->arena_bytes()));
    if (!arena_) {
      return Status(ErrorCode::kLimit, str_cat("cannot allocate the ", executor_->arena_bytes(), "-byte activation arena"));
    }
  }
  executor_->run(input_data, static_cast<uint8_t*>(arena_.get()), *pool_, output_data);
  return Result<std::vector<Tensor>>(std::move(results));
}

Result<Module> Module::try_load(const std::string& path, const LoadOptions& options) {
  return Impl::load_file(path, options);
}

Result<std::vector<Tensor>> Module::try_forward(const std::vector<Tensor>& inputs) const {
  if (!impl_) return not_loaded();
  return impl_->forward(inputs);
}

const std::vector<TensorInfo>& Module::inputs() const { return impl_ ? impl_->inputs : no_infos(); }
const std::vector<TensorInfo>& Module::outputs() const { return impl_ ? impl_->outputs : no_infos(); }
std::string Module::metadata() const { return impl_ ? impl_->metadata : std::string(); }
size_t Module::arena_bytes() const { return impl_ ? static_cast<size_t>(impl_->arena_bytes()) : 0; }
size_t Module::num_nodes() const { return impl_ ? impl_->num_nodes() : 0; }
int Module::num_threads() const { return impl_ ? impl_->num_threads : 0; }

}  // namespace deployrt
