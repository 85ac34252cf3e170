// Intra-op parallelism: a fixed set of workers that spin for a bounded time (about a
// millisecond, yielding the core after the first 50 us) after each job, to catch the next
// op of a forward() without a wake-up, then sleep on a condition variable (never spin
// forever: an idle pool uses no CPU). parallel_for splits
// [0, n) into contiguous chunks (up to 8 per thread), which the calling thread claims from
// the front and the workers from the back as they get to them, and returns when all are
// done.
#pragma once

#include <cstdint>
#include <functional>

namespace deployrt {

class ThreadPool {
 public:
  /// num_threads counts the calling thread: 1 means no workers are started.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  /// Calls fn(begin, end) over disjoint chunks covering [0, n): min(8 * num_threads,
  /// n / grain) near-equal contiguous pieces, so at least `grain` items each. Runs inline
  /// (one call over [0, n)) when that is one piece or there is one thread.
  /// Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                    int64_t grain = 1);

  /// Starts task() on a worker and returns at once, so the caller can do other work
  /// meanwhile (at load: checksum on a worker while the caller prepares the ops). With one
  /// thread (no workers) the task runs here, before run_async returns. One task at a time:
  /// run_async first waits for the previous one, and only the thread that called run_async
  /// may call it again or wait_async. While a worker runs the task it takes no parallel_for
  /// chunks (the caller and any other workers take them all), so parallel_for stays usable
  /// meanwhile. The task must not call parallel_for on this pool. The destructor waits for it.
  void run_async(std::function<void()> task);
  /// Returns once the task of the last run_async has run; at once when none is pending.
  /// A task no worker has started yet runs here, on the calling thread.
  void wait_async();

 private:
  struct State;
  int num_threads_;
  State* state_;
};

/// Piece p of [0, n) cut into `pieces` near-equal contiguous pieces (the first n % pieces
/// one item longer): how parallel_for cuts its chunks, for callers that split by hand.
inline void even_piece(int64_t n, int64_t pieces, int64_t p, int64_t* begin, int64_t* end) {
  const int64_t base = n / pieces, extra = n % pieces;
  *begin = p * base + (p < extra ? p : extra);
  *end = *begin + base + (p < extra ? 1 : 0);
}

}  // namespace deployrt
