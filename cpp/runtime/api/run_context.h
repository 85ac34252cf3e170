// Per-call execution state of a Module, so that concurrent forward() calls on one
// Module run in parallel instead of queueing behind one arena.
//
// A RunContext is what one forward() needs besides the immutable Executor: an
// activation arena (allocated on first use, reused afterwards) and, for callers that
// find the Module's shared intra-op ThreadPool busy, a one-thread pool that runs every
// parallel_for inline on the calling thread (ThreadPool(1) starts no threads).
//
// RunContextPool hands contexts out and takes them back. It creates at most
// `max_contexts` of them: at most that many forward() calls run at once on one Module,
// further callers wait until a context is returned. Memory is therefore bounded by
// max_contexts x arena_bytes (plus outputs). Idle contexts are kept for reuse.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/aligned_alloc.h"
#include "deployrt/deployrt.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

struct RunContext {
  AlignedBuffer arena;                       // arena_bytes, 64-byte aligned; null until first use
  uint64_t arena_capacity = 0;               // bytes allocated in arena
  std::unique_ptr<ThreadPool> inline_pool;   // ThreadPool(1), made on first need

  /// Dynamic shapes: each input shape plans its own arena size. Grows the arena to at
  /// least `bytes` (never shrinks: alternating shapes reuse the largest, so memory stays
  /// flat); kLimit when it cannot be allocated (the old arena is kept).
  Status reserve(uint64_t bytes);
};

class RunContextPool {
 public:
  RunContextPool(uint64_t arena_bytes, size_t max_contexts)
      : arena_bytes_(arena_bytes), max_contexts_(max_contexts < 1 ? 1 : max_contexts) {}
  RunContextPool(const RunContextPool&) = delete;
  RunContextPool& operator=(const RunContextPool&) = delete;

  /// A context with an allocated arena; blocks while max_contexts are in use.
  /// kLimit when the arena cannot be allocated (the context is not kept).
  Result<std::unique_ptr<RunContext>> acquire();
  /// Returns a context taken by acquire(); wakes one waiting caller.
  void release(std::unique_ptr<RunContext> context);
  /// Creates one idle context now, so the first acquire() finds its arena allocated (the
  /// loader then touches its pages while a worker checksums, instead of the first call
  /// faulting them in). Returns that arena and its size; null when one exists already or
  /// it cannot be allocated (the first acquire() then tries again, as without this).
  void* preallocate(uint64_t* bytes);

  size_t max_contexts() const { return max_contexts_; }
  /// Contexts in existence (idle + in use); for tests.
  size_t created() const;

 private:
  const uint64_t arena_bytes_;
  const size_t max_contexts_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<RunContext>> idle_;
  size_t created_ = 0;
};

/// RAII: a context from `pool`, returned on scope exit.
class ScopedRunContext {
 public:
  ScopedRunContext(RunContextPool& pool, std::unique_ptr<RunContext> context)
      : pool_(pool), context_(std::move(context)) {}
  ~ScopedRunContext() { pool_.release(std::move(context_)); }
  ScopedRunContext(const ScopedRunContext&) = delete;
  ScopedRunContext& operator=(const ScopedRunContext&) = delete;
  RunContext& operator*() const { return *context_; }
  RunContext* operator->() const { return context_.get(); }

 private:
  RunContextPool& pool_;
  std::unique_ptr<RunContext> context_;
};

}  // namespace deployrt
