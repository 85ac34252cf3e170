// Thread pool: chunks cover [0, n) exactly once, contiguously, honour the grain, use
// num_threads threads including the caller, and the pool survives many short jobs.
// The process's own view (/proc/self/task, getrusage) checks that num_threads is
// honoured exactly and that idle workers sleep: correctness properties, not speed.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "api/module_impl.h"
#include "archive_builder.h"
#include "cpu/cpu_features.h"
#include "threadpool/thread_pool.h"

namespace {

using deployrt::ThreadPool;

TEST(ThreadPool, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        ASSERT_LT(begin, end);
        for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ChunksRespectGrainAndThreadCount) {
  ThreadPool pool(4);
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for(1000, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(b, e);
  }, 300);
  EXPECT_EQ(chunks.size(), 3u);  // floor(1000 / 300)
  for (auto [b, e] : chunks) EXPECT_GE(e - b, 300);
  chunks.clear();
  pool.parallel_for(10, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(b, e);
  }, 100);
  ASSERT_EQ(chunks.size(), 1u);  // below the grain: inline, one chunk
  EXPECT_EQ(chunks[0], std::make_pair(int64_t{0}, int64_t{10}));
}

TEST(ThreadPool, UsesCallerAndWorkers) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  pool.parallel_for(3, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    // Wait until all three chunks are running at once: proves three threads.
    arrived++;
    while (arrived.load() < 3) std::this_thread::yield();
  });
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(ids.count(std::this_thread::get_id()));
}

TEST(ThreadPool, ManyShortJobs) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 20000; ++job) {
    pool.parallel_for(4, [&](int64_t b, int64_t e) { total += e - b; });
  }
  EXPECT_EQ(total.load(), 80000);
}

TEST(ThreadPool, EveryChunkRunsOnceWhileThreadsRaceToClaimThem) {
  // Chunks go to whichever thread claims them first (caller included), and workers may
  // still be finishing, spinning or asleep from the previous job: back-to-back jobs of
  // varying sizes must each cover their range exactly once, with the same chunk bounds.
  ThreadPool pool(4);
  for (int job = 0; job < 5000; ++job) {
    const int64_t n = 2 + job % 41;  // below and above 8 chunks per thread
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> chunks{0};
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
      chunks++;
      for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
    });
    ASSERT_EQ(chunks.load(), std::min<int64_t>(4 * 8, n)) << "job " << job;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "job " << job << " i " << i;
  }
}

TEST(ThreadPool, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int job = 0; job < 500; ++job) pool.parallel_for(10, [&](int64_t b, int64_t e) { total += e - b; });
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(total.load(), 4 * 500 * 10);
}

TEST(ThreadPool, AsyncTaskRunsOnceAndWaitReturnsAfterIt) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 200; ++round) {
      std::atomic<int> runs{0};
      int value = 0;  // written by the task, read after wait_async: no atomics needed
      pool.run_async([&] {
        value = round + 1;
        runs++;
      });
      if (threads == 1) EXPECT_EQ(runs.load(), 1) << "one thread: the task runs inside run_async";
      pool.wait_async();
      ASSERT_EQ(runs.load(), 1) << "threads=" << threads << " round=" << round;
      ASSERT_EQ(value, round + 1);
      pool.wait_async();  // nothing pending: returns at once
    }
  }
}

TEST(ThreadPool, AsyncTaskRunsOnAWorkerWhileTheCallerRunsParallelFor) {
  // The task holds its worker until the caller lets it go: meanwhile parallel_for still
  // covers its range (the caller runs every chunk), and the task ran on another thread.
  ThreadPool pool(2);
  std::atomic<bool> started{false}, release{false};
  std::thread::id task_thread;
  pool.run_async([&] {
    task_thread = std::this_thread::get_id();
    started = true;
    while (!release.load()) std::this_thread::yield();
  });
  while (!started.load()) std::this_thread::yield();  // a worker took it (it was notified)
  std::vector<std::atomic<int>> hits(1000);
  std::set<std::thread::id> ids;
  std::mutex mu;
  pool.parallel_for(1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
  release = true;
  pool.wait_async();
  EXPECT_NE(task_thread, std::this_thread::get_id());
  // The worker is back: a later job may use it again, and covers its range exactly once.
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 100; ++job) pool.parallel_for(64, [&](int64_t b, int64_t e) { total += e - b; });
  EXPECT_EQ(total.load(), 6400);
}

TEST(ThreadPool, AsyncTasksInterleavedWithJobsAndADestroyedPool) {
  // Back-to-back tasks and jobs (a task may be claimed by a worker or by wait_async); a
  // pool destroyed with a task pending runs it before its workers are joined.
  for (int threads : {2, 4}) {
    std::atomic<int64_t> tasks{0}, items{0};
    {
      ThreadPool pool(threads);
      for (int round = 0; round < 2000; ++round) {
        pool.run_async([&] { tasks++; });
        pool.parallel_for(3 + round % 13, [&](int64_t b, int64_t e) { items += e - b; });
        if (round % 3 == 0) pool.wait_async();
      }
      pool.run_async([&] { tasks++; });
    }
    EXPECT_EQ(tasks.load(), 2001) << "threads=" << threads;
    int64_t expected = 0;
    for (int round = 0; round < 2000; ++round) expected += 3 + round % 13;
    EXPECT_EQ(items.load(), expected);
  }
}

// Threads of this process, as the kernel sees them.
int os_thread_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++count;
  return count;
}

// User + system CPU seconds consumed by every thread of this process so far.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// CPU seconds the process burns while the calling thread sleeps for `wall`: anything
// above a few milliseconds means some thread is spinning.
double cpu_seconds_while_sleeping(std::chrono::milliseconds wall) {
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(wall);
  return process_cpu_seconds() - before;
}

// The same once it is steady: a joined thread (pthread_join returns as it exits) can
// still be listed for a moment, so a count taken right after a pool was destroyed (here
// or in the test before) is read again until two reads 1 ms apart agree (at most ~1 s).
int settled_thread_count() {
  int count = os_thread_count();
  for (int i = 0; i < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int again = os_thread_count();
    if (again == count) break;
    count = again;
  }
  return count;
}

TEST(ThreadPool, StartsExactlyNumThreadsMinusOneWorkers) {
  const int baseline = settled_thread_count();
  for (int threads : {1, 2, 5}) {
    {
      ThreadPool pool(threads);
      EXPECT_EQ(os_thread_count() - baseline, threads - 1) << "num_threads=" << threads;
      // Running jobs starts no extra threads either.
      std::atomic<int64_t> total{0};
      for (int job = 0; job < 50; ++job) pool.parallel_for(1000, [&](int64_t b, int64_t e) { total += e - b; });
      EXPECT_EQ(total.load(), 50 * 1000);
      EXPECT_EQ(os_thread_count() - baseline, threads - 1) << "num_threads=" << threads;
    }
    EXPECT_EQ(settled_thread_count(), baseline) << "workers of a destroyed pool must be joined";
  }
}

TEST(ThreadPool, AtMostEightChunksPerThread) {
  // Oversubscription check: however large n, at most 8 chunks per thread run (one, inline,
  // with one thread), and at most num_threads distinct threads run them.
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::mutex mu;
    std::set<std::thread::id> ids;
    int chunks = 0;
    pool.parallel_for(1 << 20, [&](int64_t, int64_t) {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
      ++chunks;
    });
    EXPECT_EQ(chunks, threads == 1 ? 1 : 8 * threads);
    EXPECT_LE(static_cast<int>(ids.size()), threads);
  }
}

TEST(ThreadPool, ChunksAreNearEqualContiguousPieces) {
  // The caller claims from the front and the workers from the back, in any interleaving:
  // the pieces are still the same near-equal cut of [0, n), each run once.
  ThreadPool pool(2);
  for (int job = 0; job < 200; ++job) {
    const int64_t n = 1000 + job;
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      std::lock_guard<std::mutex> lock(mu);
      chunks.emplace_back(b, e);
    });
    ASSERT_EQ(chunks.size(), 16u) << "job " << job;
    std::sort(chunks.begin(), chunks.end());
    int64_t next = 0;
    for (auto [b, e] : chunks) {
      ASSERT_EQ(b, next) << "job " << job;
      ASSERT_TRUE(e - b == n / 16 || e - b == n / 16 + 1) << "job " << job << " chunk [" << b << ", " << e << ")";
      next = e;
    }
    ASSERT_EQ(next, n) << "job " << job;
  }
}

TEST(ThreadPool, IdleWorkersUseNoCpu) {
  ThreadPool pool(5);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 200; ++job) pool.parallel_for(5, [&](int64_t b, int64_t e) { total += e - b; });
  ASSERT_EQ(total.load(), 200 * 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past any bounded spin
  const double cpu = cpu_seconds_while_sleeping(std::chrono::milliseconds(500));
  // Four spinning workers would burn up to 2 CPU-seconds here (less on a busy machine,
  // still far above this bound); sleeping ones burn ~0.
  EXPECT_LT(cpu, 0.05) << "idle pool used " << cpu << " CPU-seconds in 0.5 s";
}

TEST(ThreadPool, LoadedIdleModuleUsesNoCpu) {
  const auto bytes = dkr_test::small_model().build();
  auto loaded = deployrt::Module::Impl::load_from_memory(bytes.data(), bytes.size(), {4});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  std::vector<float> x = {-1, 2, -3, 4, -5, 6}, w = {10, 20, 30, 40, 50, 60};
  auto out = loaded.value().try_forward({deployrt::Tensor::wrap(x.data(), deployrt::DType::kF32, {2, 3}),
                                         deployrt::Tensor::wrap(w.data(), deployrt::DType::kF32, {2, 3})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double cpu = cpu_seconds_while_sleeping(std::chrono::milliseconds(500));
  EXPECT_LT(cpu, 0.05) << "idle module used " << cpu << " CPU-seconds in 0.5 s";
}

TEST(CpuFeatures, IsaCapFromEnvironmentString) {
  deployrt::CpuFeatures all{true, true, true};
  EXPECT_EQ(deployrt::isa_level_for(all, nullptr), deployrt::IsaLevel::kAvx512);
  EXPECT_EQ(deployrt::isa_level_for(all, "avx2"), deployrt::IsaLevel::kAvx2);
  EXPECT_EQ(deployrt::isa_level_for(all, "scalar"), deployrt::IsaLevel::kScalar);
  EXPECT_EQ(deployrt::isa_level_for(all, "bogus"), deployrt::IsaLevel::kAvx512);  // ignored, no crash
  deployrt::CpuFeatures avx2_only{true, true, false};
  EXPECT_EQ(deployrt::isa_level_for(avx2_only, "avx512"), deployrt::IsaLevel::kAvx2);
  EXPECT_EQ(deployrt::isa_level_for(deployrt::CpuFeatures{}, nullptr), deployrt::IsaLevel::kScalar);
  // Detection itself must be consistent: AVX-512 implies AVX2 on every real x86 CPU.
  deployrt::CpuFeatures host = deployrt::detect_cpu_features();
  if (host.avx512f) EXPECT_TRUE(host.avx2);
  RecordProperty("isa", deployrt::isa_name(deployrt::isa_level()));
}

}  // namespace
