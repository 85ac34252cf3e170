// deployrt::Module: load = map -> verify -> prepare ops -> plan memory; forward =
// check inputs -> take a per-call arena -> run the executor -> return fresh outputs.
#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <thread>

#include "api/module_impl.h"
#include "api/parallel_checksum.h"
#include "api/tensor_checksums.h"
#include "archive/packed_weights.h"
#include "archive/read_file.h"
#include "core/limits.h"
#include "core/str_cat.h"
#include "graph/graph_builder.h"
#include "graph/node_flops.h"
#include "ops/conv2d_winograd.h"
#include "ops/weight_cache.h"

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

// Per-tensor CRCs (format 1.5), once the ops are prepared: the packed bytes the kernels
// read in place, and the raw weights of prepacked entries unless every kernel on them took
// a packed entry in place (a raw weight some kernel packed at load or reads at run time is
// checked). A weight fully superseded by in-place entries is never read and not checked.
// The packed bytes' CRCs were computed ahead, with those of the tensors read at prepare
// (`ahead`, all work() done): the ones `wanted` (tensors_read) are compared. When preparing
// failed (`prepared` false) those are only the tensors it read: their CRC error is reported
// instead of its error, as when they were checked before it.
Status verify_prepacked_tensors(const archive::ArchiveView& view, const WeightCache& weights,
                                const std::vector<archive::PackedWeightEntry>& entries, const SharedTensorCrcs& ahead,
                                const std::vector<bool>& wanted, bool prepared, ThreadPool& pool,
                                const archive::MmapFile* file) {
  if (!prepared) return check_tensor_crcs(view, ahead.tensors(), ahead.computed(), wanted);
  // How many kernels and graph outputs use each tensor raw, and how many of those took
  // an in-place packed entry instead.
  std::vector<uint64_t> uses(view.tensor_count(), 0), in_place(view.tensor_count(), 0);
  auto use = [&](uint32_t id) {
    if (id == archive::kNone) return;
    const archive::ValueEntry value = view.value(id);
    if (value.kind == archive::ValueKind::kConstant) ++uses[value.tensor];
  };
  for (uint32_t n = 0; n < view.node_count(); ++n) {
    const archive::NodeEntry node = view.node(n);
    for (uint32_t k = 0; k < node.input_count; ++k) use(view.index_at(uint64_t{node.input_begin} + k));
  }
  for (uint32_t g = 0; g < view.graph_count(); ++g) {
    const archive::GraphEntry graph = view.graph(g);
    for (uint32_t k = 0; k < graph.output_count; ++k) use(view.index_at(uint64_t{graph.output_begin} + k));
  }
  for (const WeightCache::Entry& e : weights.entries()) {
    if (!e.in_place) continue;
    for (const archive::PackedWeightEntry& p : entries) {
      if (view.tensor_data(p.data_tensor) == e.data.get()) in_place[p.source_tensor] += e.uses;
    }
  }
  std::vector<uint32_t> raw;
  for (const archive::PackedWeightEntry& p : entries) {
    if (in_place[p.source_tensor] < uses[p.source_tensor]) raw.push_back(p.source_tensor);
  }
  Status checked = check_tensor_crcs(view, ahead.tensors(), ahead.computed(), wanted);
  if (checked.ok()) checked = verify_tensor_crcs(view, raw, pool);
  // The raw weights were packed and released before this check faulted them back in.
  if (file != nullptr) {
    for (uint32_t t : raw) {
      file->release_resident_range(view.tensor_data(t), static_cast<size_t>(view.tensor(t).nbytes));
    }
  }
  return checked;
}

// Which of `ahead`'s tensors the Module reads: those read at prepare and, once the ops are
// prepared (`prepared`), the packed entries a kernel took in place.
std::vector<bool> tensors_read(const archive::ArchiveView& view, const WeightCache& weights,
                               const std::vector<archive::PackedWeightEntry>& entries, const SharedTensorCrcs& ahead,
                               const std::vector<uint32_t>& read_at_prepare, bool prepared) {
  std::vector<bool> wanted(ahead.tensors().size(), false);
  auto want = [&](uint32_t tensor) {
    const auto it = std::lower_bound(ahead.tensors().begin(), ahead.tensors().end(), tensor);
    if (it != ahead.tensors().end() && *it == tensor) wanted[static_cast<size_t>(it - ahead.tensors().begin())] = true;
  };
  for (uint32_t t : read_at_prepare) want(t);
  if (!prepared) return wanted;
  for (const WeightCache::Entry& e : weights.entries()) {
    if (!e.in_place) continue;
    for (const archive::PackedWeightEntry& p : entries) {
      if (view.tensor_data(p.data_tensor) == e.data.get()) want(p.data_tensor);
    }
  }
  return wanted;
}

// The tensors (format 1.5 per-tensor CRCs) the ops read before or while they are prepared,
// checked before that or with the prepacked bytes (see finish_load): with dynamic shapes
// (ops prepared per shape, later) every tensor; else every constant but the raw sources of
// this level's prepacked weights (checked by verify_prepacked_tensors once it is known
// whether a kernel read them), and the test vectors.
std::vector<uint32_t> tensors_read_at_prepare(const archive::ArchiveView& view, bool dynamic,
                                              const std::vector<archive::PackedWeightEntry>& prepacked,
                                              const archive::TestVectors& test_vectors) {
  std::vector<uint32_t> tensors;
  if (dynamic) {
    for (uint32_t t = 0; t < view.tensor_count(); ++t) tensors.push_back(t);
    return tensors;
  }
  std::vector<bool> deferred(view.tensor_count(), false);
  for (const archive::PackedWeightEntry& e : prepacked) deferred[e.source_tensor] = true;
  for (uint32_t v = 0; v < view.value_count(); ++v) {
    const archive::ValueEntry value = view.value(v);
    if (value.kind == archive::ValueKind::kConstant && !deferred[value.tensor]) tensors.push_back(value.tensor);
  }
  for (const std::vector<uint32_t>& vector : test_vectors.vectors) {
    tensors.insert(tensors.end(), vector.begin(), vector.end());
  }
  return tensors;
}

// Touches every page of a fresh activation arena over the pool (a store per 4 KiB; a huge
// page faults in whole on its first), so the kernel zeroes those pages at load, on the
// thread(s) not busy checksumming, instead of inside the first call's kernels, where one
// thread's fault holds up the others at the next join.
void prefault_arena(void* arena, uint64_t bytes, ThreadPool& pool) {
  auto* p = static_cast<volatile uint8_t*>(arena);
  constexpr uint64_t kStride = 4096;
  const auto pieces = static_cast<int64_t>((bytes + kHugePageBytes - 1) / kHugePageBytes);
  pool.parallel_for(pieces, [&](int64_t begin, int64_t end) {
    const uint64_t stop = std::min<uint64_t>(static_cast<uint64_t>(end) * kHugePageBytes, bytes);
    for (uint64_t at = static_cast<uint64_t>(begin) * kHugePageBytes; at < stop; at += kStride) p[at] = 0;
  });
}

// Waits on every path out of finish_load for the pool's async task, which reads the archive
// and the loader's locals.
struct AsyncJoin {
  ThreadPool& pool;
  ~AsyncJoin() { pool.wait_async(); }
};

Status not_loaded() { return Status(ErrorCode::kInternal, "Module is empty (default-constructed, not loaded)"); }

}  // namespace

Result<Module> Module::Impl::finish_load(std::shared_ptr<Impl> impl, const uint8_t* data, size_t size,
                                         const LoadOptions& options) {
  if (options.num_threads < 0) {
    return Status(ErrorCode::kInput, str_cat("LoadOptions.num_threads is ", options.num_threads, ", expected >= 0"));
  }
  if (options.max_concurrent_calls < 0) {
    return Status(ErrorCode::kInput, str_cat("LoadOptions.max_concurrent_calls is ", options.max_concurrent_calls,
                                             ", expected >= 0"));
  }
  // Kernels read weights in place as float arrays: the bytes must be 64-byte aligned
  // (a page-aligned map or our own aligned copy; never the caller's raw buffer).
  if (!is_aligned_64(data)) {
    return Status(ErrorCode::kInternal, "finish_load: archive bytes are not 64-byte aligned");
  }
  const uint64_t arena_limit = options.max_arena_bytes == 0
                                   ? limits::kMaxArenaBytes
                                   : std::min<uint64_t>(options.max_arena_bytes, limits::kMaxArenaBytes);
  // The pool exists before the archive is verified and the ops are created: it checksums
  // the large sections, and the ops pack their weights on it.
  impl->num_threads = options.num_threads > 0 ? options.num_threads
                                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  impl->pool_ = std::make_unique<ThreadPool>(impl->num_threads);
  const auto max_calls = static_cast<size_t>(options.max_concurrent_calls > 0
                                                 ? options.max_concurrent_calls
                                                 : std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  // With per-tensor CRCs (format 1.5) the whole WEIGHTS section is not read: the tensors
  // this Module reads are checked below, before anything runs (api/tensor_checksums.h).
  Result<archive::ArchiveView> view =
      archive::ArchiveView::verify(data, size, parallel_crc32c(*impl->pool_),
                                   archive::ArchiveView::WeightsCheck::kPerTensorWhenAvailable);
  if (!view.ok()) return view.status();
  impl->view_ = view.value();
  const bool per_tensor = !impl->view_.weights_verified();
  Result<archive::TestVectors> test_vectors = archive::parse_test_vectors(impl->view_);
  if (!test_vectors.ok()) return test_vectors.status();
  impl->test_vectors_ = std::move(test_vectors).value();
  // Kernels are chosen while preparing the graph: cap the ISA on this thread for that.
  IsaLevel cap = IsaLevel::kAvx512;
  switch (options.max_isa) {
    case Isa::kBest: case Isa::kAvx512: break;
    case Isa::kScalar: cap = IsaLevel::kScalar; break;
    case Isa::kAvx2: cap = IsaLevel::kAvx2; break;
    default:
      return Status(ErrorCode::kInput, str_cat("LoadOptions.max_isa is ", static_cast<int>(options.max_isa),
                                               ", expected 0..3 (Isa::kBest..kAvx512)"));
  }
  ScopedIsaCap isa_cap(cap);
  impl->isa = isa_level();
  std::optional<ScopedWinogradWeights> compact;  // also captured by a ShapeSpecializer
  if (options.compact_weights) compact.emplace(WinogradWeights::kPerCall);
  // Weights packed at export for this ISA level (format 1.4) are used in place.
  Result<std::vector<archive::PackedWeightEntry>> packed = archive::parse_packed_weights(impl->view_);
  if (!packed.ok()) return packed.status();
  std::vector<PrepackedWeight> prepacked;
  std::vector<archive::PackedWeightEntry> prepacked_entries;  // prepacked[i] comes from prepacked_entries[i]
  std::vector<std::pair<const void*, size_t>> prepacked_ranges;
  for (const archive::PackedWeightEntry& e : packed.value()) {
    if (e.isa != archive::kPackedIsaScalar + static_cast<uint32_t>(impl->isa)) continue;
    prepacked_entries.push_back(e);
    PrepackedWeight p;
    p.key.data = impl->view_.tensor_data(e.source_tensor);
    p.key.layout = e.layout;
    for (int k = 0; k < 3; ++k) p.key.params[k] = e.params[k];
    p.data = impl->view_.tensor_data(e.data_tensor);
    p.bytes = static_cast<size_t>(impl->view_.tensor(e.data_tensor).nbytes);
    prepacked.push_back(p);
    prepacked_ranges.emplace_back(p.data, p.bytes);
  }
  const bool dynamic = ShapeSpecializer::has_symbolic_dims(impl->view_);
  // Format 1.5 with weights prepacked for this level: the tensors this Module reads (the
  // packed bytes, most of it, and the small constants read while preparing) are checksummed
  // from here on by a worker while this thread prepares the ops, then joins in
  // (SharedTensorCrcs); their CRC errors are reported before any error of preparing.
  // Which entries the kernels read in place is known only once they are prepared: every
  // entry is checksummed until then, only those are compared (verify_prepacked_tensors).
  // Without prepacked weights the constants read at prepare are all the weights, checked
  // before they are packed and released, as before.
  const bool ahead_of_prepare = per_tensor && !dynamic && !prepacked_entries.empty();
  std::vector<uint32_t> read_at_prepare;
  std::vector<uint32_t> ahead_tensors;
  if (per_tensor) {
    read_at_prepare = tensors_read_at_prepare(impl->view_, dynamic, prepacked_entries, impl->test_vectors_);
  }
  if (ahead_of_prepare) {
    ahead_tensors = read_at_prepare;
    for (const archive::PackedWeightEntry& e : prepacked_entries) ahead_tensors.push_back(e.data_tensor);
    sort_unique_tensors(&ahead_tensors);
  }
  SharedTensorCrcs ahead(impl->view_, std::move(ahead_tensors));
  AsyncJoin ahead_join{*impl->pool_};  // declared after `ahead`: joins before it is destroyed
  if (ahead_of_prepare) {
    // With one thread nothing would overlap: the CRCs are computed after preparing, for
    // the tensors then known to be read only (ahead.work() below).
    if (impl->num_threads > 1) impl->pool_->run_async([&ahead] { ahead.work(); });
  } else if (per_tensor) {  // before the pages are released, as the WEIGHTS CRC was
    Status checked = verify_tensor_crcs(impl->view_, read_at_prepare, *impl->pool_);
    if (!checked.ok()) return checked;
  }
  // A memory-mapped archive need not stay resident once verified: release it now (the
  // checksums touched its pages) and each weight after its kernel packed it, so peak
  // memory is about one copy of the weights, not two. Pages still read later fault back in.
  // Prepacked weights of this ISA stay: the kernels read them in place, and dropping them
  // would only make the first inference fault them back in.
  ConstantReleaser release_constant;
  if (impl->file_.data() != nullptr) {
    impl->file_.release_resident_pages_except(prepacked_ranges);
    const archive::MmapFile* file = &impl->file_;
    release_constant = [file](const void* p, size_t bytes) { file->release_resident_range(p, bytes); };
  }
  if (options.max_shape_specializations < 0) {
    return Status(ErrorCode::kInput, str_cat("LoadOptions.max_shape_specializations is ",
                                             options.max_shape_specializations, ", expected >= 0"));
  }
  if (dynamic) {
    // Dynamic shapes: ops are prepared per input shape on first use (api/shape_specializer.h);
    // only what does not depend on shapes is checked now.
    Status known = check_graph_ops(impl->view_, 0);
    if (!known.ok()) return known;
    constexpr int kDefaultSpecializations = 4;
    const int capacity = options.max_shape_specializations > 0 ? options.max_shape_specializations
                                                                 : kDefaultSpecializations;
    Result<std::unique_ptr<ShapeSpecializer>> specializer =
        ShapeSpecializer::create(impl->view_, static_cast<size_t>(capacity), arena_limit, impl->isa,
                                 impl->num_threads);
    if (!specializer.ok()) return specializer.status();
    impl->dynamic_ = std::move(specializer).value();
    impl->dynamic_->weight_cache().set_prepacked(prepacked);
    impl->inputs = impl->dynamic_->input_infos();
    impl->outputs = impl->dynamic_->output_infos();
  } else {
    ScopedLoadPool load_pool(impl->pool_.get());
    impl->weights_.set_prepacked(prepacked);
    Result<std::vector<PreparedNode>> nodes = prepare_graph(impl->view_, 0, release_constant, &impl->weights_);
    const bool prepared = nodes.ok();
    // The packed entries no kernel took in place are not read: the CRCs not computed yet
    // for them are skipped (an archive packed by an older runtime may hold many).
    const std::vector<bool> wanted =
        ahead_of_prepare
            ? tensors_read(impl->view_, impl->weights_, prepacked_entries, ahead, read_at_prepare, prepared)
            : std::vector<bool>{};
    ahead.skip_unwanted(wanted);
    Result<std::unique_ptr<Executor>> executor =
        prepared ? Executor::create(impl->view_, 0, std::move(nodes).value(), arena_limit)
                   : Result<std::unique_ptr<Executor>>(nodes.status());
    // Executor::create copied the small constants out of the map, and each read faulted
    // a whole page-cache folio (up to 2 MB) back in: release them again, all but what the
    // kernels read in place (prepacked weights, large constants such as the raw weights of
    // compact_weights' Winograd convs), before the arena below adds to memory. Those are
    // faulted in first, so the folios around them are released now, not mapped at the
    // first call and kept.
    auto release_all_but_in_place = [&impl](const Executor& ex) {
      if (impl->file_.data() == nullptr) return;
      std::vector<std::pair<const void*, size_t>> in_place = ex.constants_read_in_place();
      for (const WeightCache::Entry& e : impl->weights_.entries()) {
        if (e.in_place) in_place.emplace_back(e.data.get(), e.bytes);
      }
      impl->file_.release_resident_pages_except(in_place);
    };
    if (executor.ok() && impl->file_.data() != nullptr) {
      for (const auto& [p, bytes] : executor.value()->constants_read_in_place()) impl->file_.touch_range(p, bytes);
    }
    if (executor.ok()) release_all_but_in_place(*executor.value());
    if (executor.ok() && impl->num_threads > 1) {
      // The first call's arena, allocated and faulted in now, while the worker checksums
      // (with one thread this would only move the same work from the first call to here).
      impl->contexts_ = std::make_unique<RunContextPool>(executor.value()->arena_bytes(), max_calls);
      uint64_t arena_bytes = 0;
      if (void* arena = impl->contexts_->preallocate(&arena_bytes)) prefault_arena(arena, arena_bytes, *impl->pool_);
    }
    ahead.work();  // the pieces the worker has not claimed yet
    impl->pool_->wait_async();
    if (ahead_of_prepare || (per_tensor && prepared)) {  // before an error of preparing, as when checked first
      Status checked = verify_prepacked_tensors(impl->view_, impl->weights_, prepacked_entries, ahead, wanted,
                                                prepared, *impl->pool_,
                                                impl->file_.data() != nullptr ? &impl->file_ : nullptr);
      if (!checked.ok()) return checked;
    }
    if (!executor.ok()) return executor.status();
    impl->executor_ = std::move(executor).value();
    // The checksums computed meanwhile faulted the small constants back in.
    if (ahead_of_prepare) release_all_but_in_place(*impl->executor_);

    const archive::GraphEntry graph = impl->view_.graph(0);
    for (uint32_t k = 0; k < graph.input_count; ++k) {
      impl->inputs.push_back(info_of(impl->view_, impl->view_.index_at(uint64_t{graph.input_begin} + k)));
    }
    for (uint32_t k = 0; k < graph.output_count; ++k) {
      impl->outputs.push_back(info_of(impl->view_, impl->view_.index_at(uint64_t{graph.output_begin} + k)));
    }
  }
  impl->metadata = std::string(impl->view_.metadata());
  // With dynamic shapes each context grows its arena to the largest shape it ran (RunContext::reserve).
  if (!impl->contexts_) {
    impl->contexts_ = std::make_unique<RunContextPool>(impl->executor_ ? impl->executor_->arena_bytes() : 0, max_calls);
  }
  return Module(std::move(impl));
}

Result<Module> Module::Impl::load_file(const std::string& path, const LoadOptions& options) {
  if (options.copy_file) {
    auto impl = std::make_shared<Impl>();
    Result<size_t> size = archive::read_whole_file(path, &impl->copy_);
    if (!size.ok()) return size.status();
    const auto* bytes = static_cast<const uint8_t*>(impl->copy_.get());
    Result<Module> module = finish_load(std::move(impl), bytes, size.value(), options);
    if (!module.ok()) return Status(module.status().code(), str_cat(path, ": ", module.status().message()));
    return module;
  }
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

Status Module::Impl::check_inputs(const std::vector<Tensor>& args, std::vector<const void*>* input_data) const {
  if (args.size() != inputs.size()) {
    return Status(ErrorCode::kInput, str_cat("expected ", inputs.size(), " inputs, got ", args.size()));
  }
  input_data->resize(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    const TensorInfo& want = inputs[i];
    const Tensor& got = args[i];
    const std::string label = str_cat("input ", i, want.name.empty() ? "" : str_cat(" '", want.name, "'"));
    if (got.dtype() != want.dtype || got.shape() != want.shape) {
      return Status(ErrorCode::kInput, str_cat(label, ": expected ", describe(want.dtype, want.shape), ", got ",
                                               describe(got.dtype(), got.shape())));
    }
    if (got.data() == nullptr && got.nbytes() > 0) return Status(ErrorCode::kInput, label + ": data pointer is null");
    (*input_data)[i] = got.data();
  }
  return Status::Ok();
}

Status Module::Impl::begin_call(const std::vector<Tensor>& args, Call* call) const {
  call->outputs_of = &outputs;
  if (!dynamic_) {
    call->executor = executor_.get();
    return check_inputs(args, &call->input_data);
  }
  Result<std::shared_ptr<const Specialization>> specialization = dynamic_->get(args);  // checks the inputs
  if (!specialization.ok()) return specialization.status();
  call->specialization = std::move(specialization).value();
  call->executor = call->specialization->executor.get();
  call->input_data.clear();
  for (const Tensor& t : args) call->input_data.push_back(t.data());
  return Status::Ok();
}

Status Module::Impl::execute(const Call& call, const std::vector<void*>& output_data, double* node_seconds,
                             const std::function<void(size_t, const TensorRef*)>* observe) const {
  Result<std::unique_ptr<RunContext>> acquired = contexts_->acquire();
  if (!acquired.ok()) return acquired.status();
  ScopedRunContext context(*contexts_, std::move(acquired).value());
  if (call.specialization) {
    Status reserved = context->reserve(call.executor->arena_bytes());
    if (!reserved.ok()) return reserved;
  }
  // The shared intra-op pool runs one call at a time; a concurrent call uses its
  // context's one-thread pool (inline, no threads) instead of waiting for it.
  const bool own_pool = !pool_busy_.exchange(true, std::memory_order_acquire);
  ThreadPool* pool = pool_.get();
  if (!own_pool) {
    if (!context->inline_pool) context->inline_pool = std::make_unique<ThreadPool>(1);
    pool = context->inline_pool.get();
  }
  auto* arena = static_cast<uint8_t*>(context->arena.get());
  call.executor->run(call.input_data, arena, *pool, output_data, node_seconds, observe);
  if (own_pool) pool_busy_.store(false, std::memory_order_release);
  return Status::Ok();
}

Result<std::vector<Tensor>> Module::Impl::forward(const std::vector<Tensor>& args, double* node_seconds) const {
  Call call;
  Status checked = begin_call(args, &call);
  if (!checked.ok()) return checked;
  std::vector<Tensor> results;
  std::vector<void*> output_data;
  try {  // Tensor::empty reports out-of-memory with std::bad_alloc; nothing escapes here
    for (size_t i = 0; i < outputs.size(); ++i) {
      results.push_back(Tensor::empty(outputs[i].dtype, call.output_shape(i)));
      output_data.push_back(results.back().data());
    }
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimit, "out of memory allocating the outputs");
  }
  Status ran = execute(call, output_data, node_seconds);
  if (!ran.ok()) return ran;
  return Result<std::vector<Tensor>>(std::move(results));
}

Status Module::Impl::forward_into(const std::vector<Tensor>& args, std::vector<Tensor>& outs) const {
  Call call;
  Status checked = begin_call(args, &call);
  if (!checked.ok()) return checked;
  if (outs.size() != outputs.size()) {
    return Status(ErrorCode::kInput, str_cat("expected ", outputs.size(), " output tensors, got ", outs.size()));
  }
  std::vector<void*> output_data(outs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    const TensorInfo& want = outputs[i];
    Tensor& got = outs[i];
    const std::string label = str_cat("output ", i, want.name.empty() ? "" : str_cat(" '", want.name, "'"));
    if (got.dtype() != want.dtype || got.shape() != call.output_shape(i)) {
      return Status(ErrorCode::kInput, str_cat(label, ": expected ", describe(want.dtype, call.output_shape(i)),
                                               ", got ", describe(got.dtype(), got.shape())));
    }
    if (got.data() == nullptr && got.nbytes() > 0) return Status(ErrorCode::kInput, label + ": data pointer is null");
    output_data[i] = got.data();
  }
  // Nodes write graph outputs straight into these buffers while later nodes still read
  // the inputs, so no output may share bytes with an input or another output.
  auto overlaps = [](const void* a, size_t na, const void* b, size_t nb) {
    const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
    return na > 0 && nb > 0 && pa < pb + nb && pb < pa + na;
  };
  for (size_t i = 0; i < outs.size(); ++i) {
    for (size_t j = 0; j < args.size(); ++j) {
      if (overlaps(outs[i].data(), outs[i].nbytes(), args[j].data(), args[j].nbytes())) {
        return Status(ErrorCode::kInput, str_cat("output ", i, " overlaps input ", j, ": outputs must be separate buffers"));
      }
    }
    for (size_t j = i + 1; j < outs.size(); ++j) {
      if (overlaps(outs[i].data(), outs[i].nbytes(), outs[j].data(), outs[j].nbytes())) {
        return Status(ErrorCode::kInput, str_cat("output ", i, " overlaps output ", j, ": outputs must be separate buffers"));
      }
    }
  }
  return execute(call, output_data, nullptr);
}

Result<std::vector<DebugValue>> Module::Impl::forward_debug(const std::vector<Tensor>& args) const {
  Call call;
  Status checked = begin_call(args, &call);
  if (!checked.ok()) return checked;
  std::vector<DebugValue> values;
  std::vector<Tensor> results;
  std::vector<void*> output_data;
  bool out_of_memory = false;
  const std::function<void(size_t, const TensorRef*)> observe = [&](size_t step, const TensorRef* outs) {
    if (out_of_memory) return;
    const NodeInfo& info = call.executor->node_info(step);
    const std::vector<uint32_t>& ids = call.executor->node_output_ids(step);
    try {
      for (size_t k = 0; k < info.outputs.size(); ++k) {
        const TensorDesc& desc = info.outputs[k];
        DebugValue v;
        v.node = info.name;
        v.op = op_name(static_cast<uint32_t>(info.op));
        v.name = std::string(view_.string(view_.value(ids[k]).name));
        v.tensor = Tensor::empty(desc.dtype, std::vector<int64_t>(desc.dims, desc.dims + desc.rank));
        if (v.tensor.nbytes() > 0) std::memcpy(v.tensor.data(), outs[k].data, v.tensor.nbytes());
        values.push_back(std::move(v));
      }
    } catch (const std::bad_alloc&) {
      out_of_memory = true;
    }
  };
  try {
    for (size_t i = 0; i < outputs.size(); ++i) {
      results.push_back(Tensor::empty(outputs[i].dtype, call.output_shape(i)));
      output_data.push_back(results.back().data());
    }
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimit, "out of memory allocating the outputs");
  }
  Status ran = execute(call, output_data, nullptr, &observe);
  if (!ran.ok()) return ran;
  if (out_of_memory) return Status(ErrorCode::kLimit, "forward_debug: out of memory copying the intermediate values");
  return values;
}

Result<std::vector<NodeProfile>> Module::Impl::profile(const std::vector<Tensor>& args, int runs) const {
  if (runs < 1) return Status(ErrorCode::kInput, str_cat("profile: runs is ", runs, ", expected >= 1"));
  Call call;  // the executor whose nodes are timed (its shapes give the flops)
  Status checked = begin_call(args, &call);
  if (!checked.ok()) return checked;
  std::vector<double> seconds(call.executor->num_nodes(), 0.0);
  for (int r = 0; r < runs; ++r) {
    Result<std::vector<Tensor>> outputs = forward(args, seconds.data());
    if (!outputs.ok()) return outputs.status();
  }
  std::vector<NodeProfile> profiles(seconds.size());
  for (size_t i = 0; i < seconds.size(); ++i) {
    const NodeInfo& info = call.executor->node_info(i);
    profiles[i].name = info.name;
    profiles[i].op = op_name(static_cast<uint32_t>(info.op));
    profiles[i].milliseconds = seconds[i] * 1e3 / runs;
    profiles[i].flops = node_flops(info);
  }
  return profiles;
}

Result<Module> Module::try_load(const std::string& path, const LoadOptions& options) {
  return Impl::load_file(path, options);
}

Result<Module> Module::try_load_from_memory(const void* data, size_t size, const LoadOptions& options) {
  if (data == nullptr && size > 0) return Status(ErrorCode::kInput, "load_from_memory: data is null");
  return Impl::load_from_memory(data, size, options);
}

Result<std::vector<Tensor>> Module::try_forward(const std::vector<Tensor>& inputs) const {
  if (!impl_) return not_loaded();
  return impl_->forward(inputs);
}

Status Module::try_forward_into(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const {
  if (!impl_) return not_loaded();
  return impl_->forward_into(inputs, outputs);
}

Result<std::vector<DebugValue>> Module::try_forward_debug(const std::vector<Tensor>& inputs) const {
  if (!impl_) return not_loaded();
  return impl_->forward_debug(inputs);
}

int Module::find_input(const std::string& name) const {
  for (size_t i = 0; i < inputs().size(); ++i) {
    if (inputs()[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int Module::find_output(const std::string& name) const {
  for (size_t i = 0; i < outputs().size(); ++i) {
    if (outputs()[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const char* Module::isa() const { return impl_ ? isa_name(impl_->isa) : "none"; }

Result<std::vector<NodeProfile>> Module::try_profile(const std::vector<Tensor>& inputs, int runs) const {
  if (!impl_) return not_loaded();
  return impl_->profile(inputs, runs);
}

const std::vector<TensorInfo>& Module::inputs() const { return impl_ ? impl_->inputs : no_infos(); }
const std::vector<TensorInfo>& Module::outputs() const { return impl_ ? impl_->outputs : no_infos(); }
std::string Module::metadata() const { return impl_ ? impl_->metadata : std::string(); }
size_t Module::arena_bytes() const { return impl_ ? static_cast<size_t>(impl_->arena_bytes()) : 0; }
size_t Module::num_nodes() const { return impl_ ? impl_->num_nodes() : 0; }
int Module::num_threads() const { return impl_ ? impl_->num_threads : 0; }

}  // namespace deployrt
