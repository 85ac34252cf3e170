// Module::Impl: owns the archive bytes (a memory map, or an aligned copy), the verified
// view, the prepared graph, the thread pool and the activation arena. Internal header:
// tests and the bindings may use load_from_memory; applications use deployrt.h.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "archive/mmap_file.h"
#include "archive/reader.h"
#include "core/aligned_alloc.h"
#include "deployrt/deployrt.h"
#include "graph/executor.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

class Module::Impl {
 public:
  static Result<Module> load_file(const std::string& path, const LoadOptions& options);
  /// Copies `size` bytes into a 64-byte aligned buffer first ("copy-on-load"): the
  /// module does not depend on the caller's buffer, and a file that might be truncated
  /// while mapped can be read and passed here instead.
  static Result<Module> load_from_memory(const void* data, size_t size, const LoadOptions& options);

  Result<std::vector<Tensor>> forward(const std::vector<Tensor>& inputs) const;

  std::vector<TensorInfo> inputs, outputs;
  std::string metadata;
  int num_threads = 1;

  uint64_t arena_bytes() const { return executor_->arena_bytes(); }
  size_t num_nodes() const { return executor_->num_nodes(); }

 private:
  // Verifies and prepares the bytes already held by *this.
  static Result<Module> finish_load(std::shared_ptr<Impl> impl, const uint8_t* data, size_t size,
                                    const LoadOptions& options);

  archive::MmapFile file_;
  AlignedBuffer copy_;
  archive::ArchiveView view_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ThreadPool> pool_;
  // forward() is const but reuses one arena (allocated on the first call) and one
  // thread pool: calls on one Module are serialized by this mutex. For parallel
  // throughput, load one Module per thread.
  mutable std::mutex run_mutex_;
  mutable AlignedBuffer arena_;
};

}  // namespace deployrt
