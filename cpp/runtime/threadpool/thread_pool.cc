// A fixed pool of num_threads - 1 workers plus the calling thread. Each parallel_for is
// one "job": the range is cut into at most num_threads contiguous chunks, chunk 0 runs on
// the caller and chunk i on worker i - 1. Workers sleep on a condition variable between
// jobs (a generation counter tells them a new job arrived), so an idle pool costs no CPU.
#include "threadpool/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace deployrt {

struct ThreadPool::State {
  std::mutex call_mutex;  // one parallel_for at a time, even from different threads
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable work_done;
  uint64_t generation = 0;  // bumped once per job
  bool stopping = false;
  // The current job; valid while `pending` > 0.
  const std::function<void(int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0;
  int64_t num_chunks = 0;
  int pending = 0;  // workers that have not finished the current job
  std::vector<std::thread> workers;
};

namespace {

// Chunk c of `chunks` near-equal contiguous pieces of [0, n).
void chunk_bounds(int64_t n, int64_t chunks, int64_t c, int64_t* begin, int64_t* end) {
  const int64_t base = n / chunks, extra = n % chunks;
  *begin = c * base + std::min(c, extra);
  *end = *begin + base + (c < extra ? 1 : 0);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)), state_(new State) {
  for (int w = 1; w < num_threads_; ++w) {
    state_->workers.emplace_back([this, w] {
      State& s = *state_;
      uint64_t seen = 0;
      for (;;) {
        std::unique_lock<std::mutex> lock(s.mutex);
        s.work_ready.wait(lock, [&] { return s.stopping || s.generation != seen; });
        if (s.stopping) return;
        seen = s.generation;
        const auto* fn = s.fn;
        const int64_t n = s.n, chunks = s.num_chunks;
        lock.unlock();
        if (w < chunks) {
          int64_t begin, end;
          chunk_bounds(n, chunks, w, &begin, &end);
          (*fn)(begin, end);
        }
        lock.lock();
        if (--s.pending == 0) s.work_done.notify_one();
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work_ready.notify_all();
  for (std::thread& t : state_->workers) t.join();
  delete state_;
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // floor(n / grain) chunks at most, so every chunk holds at least `grain` items.
  const int64_t chunks = std::min<int64_t>(num_threads_, n / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  State& s = *state_;
  std::lock_guard<std::mutex> call(s.call_mutex);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.fn = &fn;
    s.n = n;
    s.num_chunks = chunks;
    // Every worker wakes and acknowledges each job (idle ones immediately), which keeps
    // the generation bookkeeping trivially correct.
    s.pending = num_threads_ - 1;
    ++s.generation;
  }
  s.work_ready.notify_all();
  int64_t begin, end;
  chunk_bounds(n, chunks, 0, &begin, &end);
  fn(begin, end);
  std::unique_lock<std::mutex> lock(s.mutex);
  s.work_done.wait(lock, [&] { return s.pending == 0; });
  s.fn = nullptr;
}

}  // namespace deployrt
