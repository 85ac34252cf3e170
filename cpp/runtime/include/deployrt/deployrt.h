// deployrt: run a deploykit archive (.dkr) with no Python and no libtorch.
//
//   auto module = deployrt::Module::load("model.dkr");
//   deployrt::Tensor x = deployrt::Tensor::wrap(buf, deployrt::DType::kF32, {1, 3, 224, 224});
//   std::vector<deployrt::Tensor> y = module.forward({x});
//
// Every entry point comes in two forms: `try_*` returns a Result (never throws),
// the plain form throws deployrt::Error with the same code and message.
//
// Thread rules (docs/SECURITY.md): a loaded Module is immutable and may be shared
// between threads. forward() on one Module from several threads at once is safe and
// runs in parallel: each call takes a per-call activation arena from a pool owned by
// the Module (at most LoadOptions.max_concurrent_calls at once; further callers wait),
// and only one call at a time uses the Module's intra-op thread pool (the others run
// their kernels on their own thread). Results are identical to sequential calls.
// Not thread-safe: assigning to / destroying a Module while another thread uses it,
// and writing a Tensor's memory while forward() reads it. Tensors are plain handles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace deployrt {

/// Maximum tensor rank the archive and runtime accept.
constexpr int kMaxRank = 8;

/// Element types; the numeric codes are the archive's (docs/archive-format.md).
enum class DType : uint32_t {
  kInvalid = 0,
  kF32 = 1,
  kF16 = 2,
  kF64 = 3,
  kI8 = 4,
  kU8 = 5,
  kI16 = 6,
  kI32 = 7,
  kI64 = 8,
  kBool = 9,
};

/// Size in bytes of one element, or 0 for an invalid dtype.
size_t dtype_size(DType dtype);
/// Short name ("f32"), or "invalid".
const char* dtype_name(DType dtype);

/// Error categories. Python maps each to an exception class under deploykit.DeployError.
enum class ErrorCode : int {
  kOk = 0,
  kIo = 1,           ///< file cannot be opened, read or mapped
  kArchive = 2,      ///< archive is malformed, corrupt or fails verification
  kUnsupported = 3,  ///< archive is valid but uses ops/versions this runtime lacks
  kInput = 4,        ///< forward() inputs have the wrong count, dtype or shape
  kLimit = 5,        ///< a documented limit (size, rank, count, arena bytes) is exceeded
  kInternal = 6,     ///< a bug in deployrt
};

/// Short name of a code ("archive error"), as Status::to_string prints it.
const char* error_code_name(ErrorCode code);

/// Outcome of an operation: ok, or an error code with a message naming what is wrong.
class Status {
 public:
  /// An ok status.
  Status() = default;
  /// An error (or ok, for kOk) with a message naming what is wrong.
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  /// An ok status.
  static Status Ok() { return Status(); }
  /// True for kOk.
  bool ok() const { return code_ == ErrorCode::kOk; }
  /// The error category.
  ErrorCode code() const { return code_; }
  /// What is wrong (field, index, expected, actual); empty when ok.
  const std::string& message() const { return message_; }
  /// "archive error: <message>"
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

/// Exception thrown by the throwing entry points.
class Error : public std::runtime_error {
 public:
  /// Carries a failed status; what() is status.to_string().
  explicit Error(const Status& status)
      : std::runtime_error(status.to_string()), code_(status.code()), message_(status.message()) {}
  /// The error category.
  ErrorCode code() const { return code_; }
  /// The status message (without the category prefix).
  const std::string& message() const { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

/// A value or an error Status.
template <class T>
class Result {
 public:
  /// A success holding `value`.
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  /// A failure; an ok `status` becomes kInternal (a Result needs a value to be ok).
  Result(Status status) : status_(std::move(status)) {
    if (status_.ok()) status_ = Status(ErrorCode::kInternal, "Result built from an ok Status");
  }
  /// True when a value is held.
  bool ok() const { return status_.ok(); }
  /// Ok, or the error.
  const Status& status() const { return status_; }
  /// The value (default-constructed when !ok()).
  T& value() & { return value_; }
  const T& value() const& { return value_; }
  T&& value() && { return std::move(value_); }
  /// The value, or throws deployrt::Error.
  T take() {
    if (!ok()) throw Error(status_);
    return std::move(value_);
  }

 private:
  Status status_;
  T value_{};
};

/// A dense, C-contiguous tensor. Either owns 64-byte aligned memory (Tensor::empty)
/// or wraps memory owned by the caller (Tensor::wrap), which must outlive it.
/// Copies share the same memory.
class Tensor {
 public:
  /// An undefined tensor (dtype kInvalid, no data).
  Tensor() = default;
  /// Allocates uninitialized, 64-byte aligned storage.
  static Tensor empty(DType dtype, std::vector<int64_t> shape);
  /// Wraps caller memory without copying.
  static Tensor wrap(void* data, DType dtype, std::vector<int64_t> shape);
  /// Wraps caller memory without copying (read-only use, e.g. as an input).
  static Tensor wrap(const void* data, DType dtype, std::vector<int64_t> shape) {
    return wrap(const_cast<void*>(data), dtype, std::move(shape));
  }

  /// Element type.
  DType dtype() const { return dtype_; }
  /// Dimensions, outermost first.
  const std::vector<int64_t>& shape() const { return shape_; }
  /// Number of dimensions.
  int rank() const { return static_cast<int>(shape_.size()); }
  /// Number of elements (1 for rank 0).
  int64_t numel() const;
  /// numel() x dtype_size(dtype()).
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  /// The first element (owned or wrapped memory; null for an undefined tensor).
  void* data() { return data_; }
  const void* data() const { return data_; }
  template <class T>
  T* data_as() { return static_cast<T*>(data_); }
  template <class T>
  const T* data_as() const { return static_cast<const T*>(data_); }
  /// False for a default-constructed tensor.
  bool defined() const { return dtype_ != DType::kInvalid; }

 private:
  std::shared_ptr<void> storage_;  // null when wrapping caller memory
  void* data_ = nullptr;
  DType dtype_ = DType::kInvalid;
  std::vector<int64_t> shape_;
};

/// Name, dtype and shape of a model input or output.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kInvalid;
  /// Dimensions; -1 for a symbolic dim of a model exported with dynamic shapes.
  std::vector<int64_t> shape;
  /// Empty when every dim is fixed. Otherwise one entry per dim: the symbol's name for a
  /// symbolic dim ("N": every dim named N takes the same size in one call), "?" for an
  /// output dim that depends on the input sizes without a name of its own, "" for a fixed dim.
  std::vector<std::string> dim_names;
};

/// Where the time of one node went (Module::try_profile).
struct NodeProfile {
  std::string name;          ///< node name from the archive (may be empty)
  std::string op;            ///< op name as in docs/ops.md ("conv2d")
  double milliseconds = 0;   ///< mean wall time per run
  double flops = 0;          ///< arithmetic work per run, from the node's shapes (2 per multiply-add)
};

/// Highest instruction-set level kernels may use (LoadOptions::max_isa). The effective
/// level is the lowest of this, the CPU's support and the DEPLOYRT_ISA environment cap.
enum class Isa : int {
  kBest = 0,    ///< no ceiling: the best the CPU supports
  kScalar = 1,  ///< portable scalar kernels only
  kAvx2 = 2,    ///< at most AVX2+FMA
  kAvx512 = 3,  ///< at most AVX-512F
};

/// Options for Module::load.
struct LoadOptions {
  /// Intra-op threads; 0 means the number of hardware threads.
  int num_threads = 0;
  /// Most forward() calls that run at once on one Module (each holds an activation
  /// arena of arena_bytes()); further callers wait. 0 means the number of hardware threads.
  int max_concurrent_calls = 0;
  /// Refuse (kLimit) a model whose activation arena exceeds this many bytes; 0 means the
  /// built-in limit (16 GiB), larger values are capped at it.
  uint64_t max_arena_bytes = 0;
  /// Read the file into memory instead of memory-mapping it. A mapped file that another
  /// process truncates while the Module is alive raises SIGBUS on access; a copy cannot.
  bool copy_file = false;
  /// Instruction-set ceiling for the kernels this Module chooses (they are chosen at
  /// load time). Lets one process compare or pin ISA paths without setting DEPLOYRT_ISA.
  Isa max_isa = Isa::kBest;
  /// Models with symbolic dims (dynamic shapes) are prepared per input shape on the first
  /// call with that shape; this many preparations (kernels and memory plan) are kept, least
  /// recently used dropped first. 0 means 4. Packed weights are shared by all of them.
  int max_shape_specializations = 0;
  /// Keep weights close to their archive size at some cost in speed: Winograd convs whose
  /// output is a single chunk of tiles (ResNet's 14x14 layers) transform their weights on
  /// each call instead of keeping the transformed copy, 4x the raw weight's bytes
  /// (ResNet-50: peak RSS 161 -> 122 MB; those convs run 1.3-1.6x slower).
  bool compact_weights = false;
};

/// Every value the main graph computed, from Module::try_forward_debug.
struct DebugValue {
  std::string node;  ///< name of the node that produced it (may be empty)
  std::string op;    ///< that node's op ("conv2d")
  std::string name;  ///< the value's name in the archive (matches the exporter's IR names)
  Tensor tensor;     ///< a copy owned by this struct
};

/// One output of one embedded test vector, checked by Module::try_selftest.
struct SelftestCheck {
  size_t vector = 0;          ///< test vector index
  size_t output = 0;          ///< output index
  std::string name;           ///< output name
  double max_abs_error = 0;   ///< max |actual - expected| (infinity if any value is NaN/inf where expected is not)
  double max_rel_error = 0;   ///< max_abs_error / max |expected| (max_abs_error when expected is all zero)
  double tolerance = 0;       ///< rtol * max |expected| + atol, from the archive
  bool passed = false;        ///< max_abs_error <= tolerance
};

/// Every check of a selftest; passed() when all of them passed.
struct SelftestReport {
  std::vector<SelftestCheck> checks;
  bool passed() const {
    for (const SelftestCheck& c : checks) {
      if (!c.passed) return false;
    }
    return !checks.empty();
  }
};

/// A loaded, verified archive, ready to run.
class Module {
 public:
  /// Memory-maps and verifies the archive at `path`. The file stays mapped for the
  /// Module's life (LoadOptions::copy_file reads it instead).
  static Result<Module> try_load(const std::string& path, const LoadOptions& options = {});
  /// As the try_ form above, throwing deployrt::Error on failure.
  static Module load(const std::string& path, const LoadOptions& options = {}) {
    return try_load(path, options).take();
  }
  /// Verifies and loads `size` bytes at `data` (any alignment). The bytes are copied
  /// into an aligned buffer owned by the Module: `data` may be freed afterwards.
  static Result<Module> try_load_from_memory(const void* data, size_t size, const LoadOptions& options = {});
  /// As the try_ form above, throwing deployrt::Error on failure.
  static Module load_from_memory(const void* data, size_t size, const LoadOptions& options = {}) {
    return try_load_from_memory(data, size, options).take();
  }

  /// Runs the main graph. Inputs must match inputs() in count, dtype and shape; a symbolic
  /// dim (-1 in inputs()) takes any size, the same for every dim with the same name, and
  /// outputs then have the shapes inference gives (kInput when the model cannot take the
  /// shapes, naming the input, dim and symbol, or the node). Returns freshly allocated outputs.
  Result<std::vector<Tensor>> try_forward(const std::vector<Tensor>& inputs) const;
  /// As the try_ form above, throwing deployrt::Error on failure.
  std::vector<Tensor> forward(const std::vector<Tensor>& inputs) const {
    return try_forward(inputs).take();
  }
  /// Runs forward() `runs` times (>= 1; no untimed warm-up) timing every node; one entry
  /// per node in execution order. Profiling costs nothing when not asked for: forward()
  /// runs a separate, untimed instantiation of the executor loop.
  Result<std::vector<NodeProfile>> try_profile(const std::vector<Tensor>& inputs, int runs = 1) const;
  /// As the try_ form above, throwing deployrt::Error on failure.
  std::vector<NodeProfile> profile(const std::vector<Tensor>& inputs, int runs = 1) const {
    return try_profile(inputs, runs).take();
  }

  /// Runs the main graph writing each output into the caller's `outputs[i]`, which must
  /// already have outputs()[i]'s dtype and shape and non-null data (else kInput naming
  /// the output, expected and actual). No output memory is allocated and nothing is
  /// copied: the node that produces a graph output writes it straight into the caller's
  /// buffer. (Only an output that is also a graph input or a constant, or that the graph
  /// lists twice, is copied.) The buffers must not overlap the inputs or each other
  /// (checked: kInput), and must stay valid for the duration of the call.
  Status try_forward_into(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const;
  /// As the try_ form above, throwing deployrt::Error on failure.
  void forward_into(const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) const {
    Status status = try_forward_into(inputs, outputs);
    if (!status.ok()) throw Error(status);
  }
  /// Debugging aid (deploykit verify --per-op): runs the main graph once and returns a
  /// copy of every node output, in execution order. Slow and memory-hungry (every
  /// intermediate is kept); never needed for inference.
  Result<std::vector<DebugValue>> try_forward_debug(const std::vector<Tensor>& inputs) const;

  /// The model's inputs and outputs, in order: name, dtype and shape.
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  /// Number of test vectors stored in the archive (deploykit export --embed-test-vectors).
  size_t num_test_vectors() const;
  /// Runs every stored test vector and compares each output with the stored expected
  /// output (PyTorch's). A failed comparison is a report entry with passed = false, not
  /// an error; errors are for archives without test vectors (kInput) or a failed run.
  Result<SelftestReport> try_selftest() const;
  /// Position of the input (output) called `name` in inputs() (outputs()), or -1.
  int find_input(const std::string& name) const;
  int find_output(const std::string& name) const;
  /// Instruction-set level the kernels of this Module were chosen for ("scalar", "avx2", "avx512").
  const char* isa() const;
  /// The archive's METADATA section (JSON text).
  std::string metadata() const;
  /// Bytes of the planned activation arena (with dynamic shapes: that of the most recent
  /// call's input shapes, 0 before the first call).
  size_t arena_bytes() const;
  /// Number of nodes in the main graph.
  size_t num_nodes() const;
  /// Number of intra-op threads in use.
  int num_threads() const;

  /// An empty Module (not loaded): every call fails with kInternal, inputs() is empty.
  Module() = default;
  /// Implementation (api/module_impl.h); not part of the API.
  class Impl;

 private:
  explicit Module(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

/// Runtime version string ("0.1.0").
const char* version();

}  // namespace deployrt
