// deployrt: run a deploykit archive (.dkr) with no Python and no libtorch.
//
//   auto module = deployrt::Module::load("model.dkr");
//   deployrt::Tensor x = deployrt::Tensor::wrap(buf, deployrt::DType::kF32, {1, 3, 224, 224});
//   std::vector<deployrt::Tensor> y = module.forward({x});
//
// Every entry point comes in two forms: `try_*` returns a Result (never throws),
// the plain form throws deployrt::Error with the same code and message.
//
// Thread rules: a loaded Module may be shared between threads; forward() calls on
// one Module are serialized internally (each Module owns one activation arena).
// Load one Module per thread for parallel throughput.
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

const char* error_code_name(ErrorCode code);

/// Outcome of an operation: ok, or an error code with a message naming what is wrong.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
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
  explicit Error(const Status& status)
      : std::runtime_error(status.to_string()), code_(status.code()), message_(status.message()) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

/// A value or an error Status.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {
    if (status_.ok()) status_ = Status(ErrorCode::kInternal, "Result built from an ok Status");
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
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
  Tensor() = default;
  /// Allocates uninitialized, 64-byte aligned storage.
  static Tensor empty(DType dtype, std::vector<int64_t> shape);
  /// Wraps caller memory without copying.
  static Tensor wrap(void* data, DType dtype, std::vector<int64_t> shape);
  /// Wraps caller memory without copying (read-only use, e.g. as an input).
  static Tensor wrap(const void* data, DType dtype, std::vector<int64_t> shape) {
    return wrap(const_cast<void*>(data), dtype, std::move(shape));
  }

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  void* data() { return data_; }
  const void* data() const { return data_; }
  template <class T>
  T* data_as() { return static_cast<T*>(data_); }
  template <class T>
  const T* data_as() const { return static_cast<const T*>(data_); }
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
  std::vector<int64_t> shape;
};

/// Options for Module::load.
struct LoadOptions {
  /// Intra-op threads; 0 means the number of hardware threads.
  int num_threads = 0;
};

/// A loaded, verified archive, ready to run.
class Module {
 public:
  /// Memory-maps and verifies the archive at `path`.
  static Result<Module> try_load(const std::string& path, const LoadOptions& options = {});
  static Module load(const std::string& path, const LoadOptions& options = {}) {
    return try_load(path, options).take();
  }

  /// Runs the main graph. Inputs must match inputs() in count, dtype and shape.
  /// Returns freshly allocated outputs.
  Result<std::vector<Tensor>> try_forward(const std::vector<Tensor>& inputs) const;
  std::vector<Tensor> forward(const std::vector<Tensor>& inputs) const {
    return try_forward(inputs).take();
  }

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  /// The archive's METADATA section (JSON text).
  std::string metadata() const;
  /// Bytes of the planned activation arena.
  size_t arena_bytes() const;
  /// Number of nodes in the main graph.
  size_t num_nodes() const;
  /// Number of intra-op threads in use.
  int num_threads() const;

  Module() = default;
  class Impl;

 private:
  explicit Module(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

/// Runtime version string ("0.1.0").
const char* version();

}  // namespace deployrt
