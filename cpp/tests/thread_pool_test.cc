// Thread pool: chunks cover [0, n) exactly once, contiguously, honour the grain, use
// num_threads threads including the caller, and the pool survives many short jobs.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

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
