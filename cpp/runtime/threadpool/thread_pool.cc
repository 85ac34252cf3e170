// A fixed pool of num_threads - 1 workers plus the calling thread. Each parallel_for is
// one "job": the range is cut into up to kChunksPerThread contiguous chunks per thread,
// which the threads claim (a compare-and-swap on one ticket word), the caller from the
// front of the range and the workers from its back. So a job never waits for a worker that
// is still waking up, or that the OS has descheduled: the caller runs that worker's chunks
// itself; and a thread on a slower core ends up with less of the range, while each thread's
// chunks stay next to each other.
//
// Between jobs, workers (and the caller, waiting for the last chunk) spin for a bounded
// time (1-2 ms), which catches the next job of a forward() without a futex wake-up (a
// few tens of microseconds on a VM, per op), then sleep on a condition variable: an
// idle pool costs no CPU. The sleeping side announces itself in an atomic counter, so
// the waking side only touches the mutex when someone actually sleeps.
//
// run_async hands one task to whichever worker gets to it first; that worker runs it instead
// of chunks. wait_async runs a task no worker has started yet on the calling thread, like a
// chunk nobody claimed, so it never waits for a worker to wake up.
#include "threadpool/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace deployrt {

namespace {

using Fn = std::function<void(int64_t, int64_t)>;

// How long a thread waits, spinning, before it sleeps on a condition variable. Waking a
// sleeping thread costs a futex call and, on a VM, an inter-processor interrupt: tens of
// microseconds (measured ~40 us here), as much as a whole small op. So a worker keeps
// waiting across the gaps inside a forward() (an op run inline, a thread finishing its
// chunk later than the other), and an idle pool still goes to sleep ~1 ms after a call.
// The caller waits for chunks that are already running, so it spins longer still.
// After kPauseSpin a waiting thread yields between checks, so on a machine whose cores
// are taken by other processes, a spinning thread gives its core to them.
// (On MobileNetV2 at 2 threads, 20 us of spinning left ~8 workers and ~10 callers asleep
// per forward(); waiting 1 / 2 ms measured 3-5% faster end to end.)
constexpr std::chrono::microseconds kPauseSpin(50);
constexpr std::chrono::microseconds kWorkerSpin(1000);
constexpr std::chrono::microseconds kCallerSpin(2000);

// At most this many chunks per job: the ticket's chunk fields are 16 bits.
constexpr int64_t kMaxChunks = 0xFFFF;

// Chunks per thread (grain permitting). With one chunk each, a job lasts as long as its
// slowest thread, and on a shared VM the two cores' speeds differ by up to 1.3-1.7x for
// seconds at a time (summed chunk times of the caller vs the worker over 100 forwards of
// MobileNetV2 at 2 threads); with 8, the faster thread takes more of them, while the
// caller's chunks (from the front) and the workers' (from the back) stay contiguous and
// meet where the speeds put them. MobileNetV2 at 2 threads vs one chunk each, interleaved:
// p50 0.95-1.00x over five runs of 14-30 rounds, per-node means 0.82-0.95x; ResNet-18/50
// at 2 threads and load times unchanged; one thread runs inline as before.
constexpr int64_t kChunksPerThread = 8;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or `limit` has passed; returns done().
template <class Pred>
bool spin_until(Pred done, std::chrono::microseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited >= limit) return done();
    if (waited >= kPauseSpin) std::this_thread::yield();
  }
}

// The ticket word: job id (32 bits) | front (16) | back (16). Chunks [front, back) are
// unclaimed: the caller claims from the front, workers from the back.
constexpr uint64_t make_ticket(uint32_t job, int64_t front, int64_t back) {
  return (uint64_t{job} << 32) | (static_cast<uint64_t>(front) << 16) | static_cast<uint64_t>(back);
}
// run_async's task: kAsyncIdle -> kAsyncPending (published) -> kAsyncRunning (claimed by a
// worker or by wait_async) -> kAsyncDone -> kAsyncIdle (wait_async).
constexpr int kAsyncIdle = 0, kAsyncPending = 1, kAsyncRunning = 2, kAsyncDone = 3;

constexpr uint32_t ticket_job(uint64_t t) { return static_cast<uint32_t>(t >> 32); }
constexpr int64_t ticket_front(uint64_t t) { return static_cast<int64_t>((t >> 16) & 0xFFFF); }
constexpr int64_t ticket_back(uint64_t t) { return static_cast<int64_t>(t & 0xFFFF); }

}  // namespace

struct ThreadPool::State {
  std::mutex call_mutex;  // one parallel_for at a time, even from different threads
  std::atomic<uint64_t> ticket{0};
  // The current job's function and size; read by a thread only before it claims a chunk
  // of that job, which cannot happen once the job is over (every chunk claimed).
  std::atomic<const Fn*> fn{nullptr};
  std::atomic<int64_t> n{0};
  std::atomic<int64_t> chunks{0};
  std::atomic<int64_t> remaining{0};  // chunks of the current job not finished yet
  std::atomic<bool> stopping{false};
  // Sleeping: workers on work_ready, the caller on work_done, both under `mutex`.
  std::mutex mutex;
  std::condition_variable work_ready, work_done;
  std::atomic<int> sleeping_workers{0};
  std::atomic<bool> caller_sleeping{false};
  std::vector<std::thread> workers;
  // run_async's task: written before async_state becomes kAsyncPending, destroyed by
  // wait_async after it saw kAsyncDone.
  std::function<void()> async_task;
  alignas(64) std::atomic<int> async_state{kAsyncIdle};  // apart from the job fields: workers poll it as they spin
  std::atomic<bool> async_waiter_sleeping{false};
  std::condition_variable async_done;  // under `mutex`

  // Claims the pending async task, if any, and runs it; false when there was none to claim.
  bool try_run_async() {
    // A plain load first: every wake-up of every worker comes here, and a failed
    // compare-exchange would still take the line from the other cores.
    if (async_state.load(std::memory_order_relaxed) != kAsyncPending) return false;
    int expected = kAsyncPending;
    if (!async_state.compare_exchange_strong(expected, kAsyncRunning, std::memory_order_acq_rel)) return false;
    async_task();
    async_state.store(kAsyncDone, std::memory_order_seq_cst);
    if (async_waiter_sleeping.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mutex);
      async_done.notify_all();
    }
    return true;
  }

  // Claims and runs chunks of job `job` until none is left unclaimed: from the front
  // (the caller) or from the back (workers).
  void run_chunks(uint32_t job, bool from_front) {
    uint64_t t = ticket.load(std::memory_order_acquire);
    for (;;) {
      if (ticket_job(t) != job || ticket_front(t) >= ticket_back(t)) return;
      // Read before the claim: if the claim succeeds, the job was still open meanwhile,
      // so these are its values.
      const Fn* f = fn.load(std::memory_order_relaxed);
      const int64_t size = n.load(std::memory_order_relaxed);
      const int64_t count = chunks.load(std::memory_order_relaxed);
      const uint64_t claimed = from_front ? t + (uint64_t{1} << 16) : t - 1;
      if (!ticket.compare_exchange_weak(t, claimed, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const int64_t c = from_front ? ticket_front(t) : ticket_back(t) - 1;
      int64_t begin = 0, end = 0;
      even_piece(size, count, c, &begin, &end);
      (*f)(begin, end);
      if (remaining.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_sleeping.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex);
        work_done.notify_one();
      }
      t = ticket.load(std::memory_order_acquire);
    }
  }
};

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)), state_(new State) {
  for (int w = 1; w < num_threads_; ++w) {
    state_->workers.emplace_back([this] {
      State& s = *state_;
      uint32_t seen = 0;  // job ids start at 1
      // seq_cst loads: with the counters below, either this thread sees the new job or
      // the caller sees it sleeping (and wakes it).
      auto woken = [&] {
        return s.stopping.load(std::memory_order_seq_cst) ||
               ticket_job(s.ticket.load(std::memory_order_seq_cst)) != seen ||
               s.async_state.load(std::memory_order_seq_cst) == kAsyncPending;
      };
      for (;;) {
        if (!spin_until(woken, kWorkerSpin)) {
          std::unique_lock<std::mutex> lock(s.mutex);
          s.sleeping_workers.fetch_add(1, std::memory_order_seq_cst);
          s.work_ready.wait(lock, woken);
          s.sleeping_workers.fetch_sub(1, std::memory_order_seq_cst);
        }
        if (s.stopping.load(std::memory_order_acquire)) return;
        s.try_run_async();  // then the chunks of whatever job is open by now
        seen = ticket_job(s.ticket.load(std::memory_order_acquire));
        s.run_chunks(seen, /*from_front=*/false);
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  wait_async();
  state_->stopping.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
  }
  state_->work_ready.notify_all();
  for (std::thread& t : state_->workers) t.join();
  delete state_;
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // floor(n / grain) chunks at most, so every chunk holds at least `grain` items.
  const int64_t chunks = std::min<int64_t>({num_threads_ * kChunksPerThread, n / grain, kMaxChunks});
  if (chunks <= 1 || num_threads_ == 1) {
    fn(0, n);
    return;
  }
  State& s = *state_;
  std::lock_guard<std::mutex> call(s.call_mutex);
  uint32_t job = ticket_job(s.ticket.load(std::memory_order_relaxed)) + 1;
  if (job == 0) job = 1;  // 0 is the workers' "none seen yet"
  s.fn.store(&fn, std::memory_order_relaxed);
  s.n.store(n, std::memory_order_relaxed);
  s.chunks.store(chunks, std::memory_order_relaxed);
  s.remaining.store(chunks, std::memory_order_relaxed);
  s.ticket.store(make_ticket(job, 0, chunks), std::memory_order_seq_cst);  // publishes the fields above
  if (s.sleeping_workers.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(s.mutex); }  // a worker between its check and its wait gets the notify
    s.work_ready.notify_all();
  }
  s.run_chunks(job, /*from_front=*/true);
  auto done = [&] { return s.remaining.load(std::memory_order_seq_cst) == 0; };
  if (!spin_until(done, kCallerSpin)) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.caller_sleeping.store(true, std::memory_order_seq_cst);
    s.work_done.wait(lock, done);
    s.caller_sleeping.store(false, std::memory_order_relaxed);
  }
}

void ThreadPool::run_async(std::function<void()> task) {
  if (num_threads_ == 1) {
    task();
    return;
  }
  State& s = *state_;
  wait_async();  // one task at a time
  s.async_task = std::move(task);
  s.async_state.store(kAsyncPending, std::memory_order_seq_cst);  // publishes async_task
  if (s.sleeping_workers.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(s.mutex); }  // as in parallel_for
    s.work_ready.notify_all();
  }
}

void ThreadPool::wait_async() {
  State& s = *state_;
  if (s.async_state.load(std::memory_order_acquire) == kAsyncIdle) return;
  s.try_run_async();  // not started by any worker yet: run it here
  auto done = [&] { return s.async_state.load(std::memory_order_seq_cst) == kAsyncDone; };
  if (!spin_until(done, kCallerSpin)) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.async_waiter_sleeping.store(true, std::memory_order_seq_cst);
    s.async_done.wait(lock, done);
    s.async_waiter_sleeping.store(false, std::memory_order_relaxed);
  }
  s.async_task = nullptr;
  s.async_state.store(kAsyncIdle, std::memory_order_release);
}

}  // namespace deployrt
