// One Module, many threads (BAD_INPUTS.md case 23): concurrent forward() calls give
// bit-identical results to sequential ones, run on separate per-call arenas, and never
// hold more arenas than LoadOptions.max_concurrent_calls. Run under TSan by
// `make test` (build/tsan), which is what proves the absence of data races.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "api/run_context.h"
#include "every_op_archive.h"

namespace {

using deployrt::DType;
using deployrt::LoadOptions;
using deployrt::Module;
using deployrt::Tensor;

constexpr int kThreads = 8;

// Distinct input per (thread, call), so a result landing in the wrong call is caught.
std::vector<float> input_for(int thread, int call) {
  std::vector<float> x(192);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7 + thread * 13 + call) % 23) * 0.1f - 1.0f;
  return x;
}

std::vector<float> run(const Module& m, const std::vector<float>& x) {
  std::vector<Tensor> y = m.forward({Tensor::wrap(x.data(), DType::kF32, {1, 3, 8, 8})});
  return std::vector<float>(y[0].data_as<float>(), y[0].data_as<float>() + y[0].numel());
}

void hammer(const Module& m, int calls_per_thread, int distinct_calls) {
  std::vector<std::vector<std::vector<float>>> expected(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int c = 0; c < distinct_calls; ++c) expected[t].push_back(run(m, input_for(t, c)));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < calls_per_thread; ++c) {
        const std::vector<float> y = run(m, input_for(t, c % distinct_calls));
        const std::vector<float>& want = expected[t][c % distinct_calls];
        if (y.size() != want.size() || std::memcmp(y.data(), want.data(), y.size() * 4) != 0) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Concurrency, EightThreadsTimesThousandCallsMatchSequential) {
  const auto bytes = dkr_test::every_op_model().b.build();
  for (int intra_op_threads : {1, 2}) {
    LoadOptions options;
    options.num_threads = intra_op_threads;
    options.max_concurrent_calls = kThreads;
    Module m = Module::load_from_memory(bytes.data(), bytes.size(), options);
    hammer(m, 1000, 16);
  }
}

TEST(Concurrency, ArenasAreBoundedByMaxConcurrentCalls) {
  const auto bytes = dkr_test::every_op_model().b.build();
  LoadOptions options;
  options.num_threads = 2;
  options.max_concurrent_calls = 2;
  Module m = Module::load_from_memory(bytes.data(), bytes.size(), options);
  hammer(m, 200, 4);  // 8 threads queue for 2 arenas; results still exact
}

TEST(Concurrency, RunContextPoolHandsOutDistinctArenasUpToItsBound) {
  deployrt::RunContextPool pool(4096, 3);
  auto a = pool.acquire(), b = pool.acquire(), c = pool.acquire();
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  // Three calls in flight at once: three different arenas (no serialization).
  EXPECT_NE(a.value()->arena.get(), b.value()->arena.get());
  EXPECT_NE(b.value()->arena.get(), c.value()->arena.get());
  EXPECT_NE(a.value()->arena.get(), c.value()->arena.get());
  EXPECT_EQ(pool.created(), 3u);
  void* reused = a.value()->arena.get();
  pool.release(std::move(a).value());
  auto d = pool.acquire();  // reuses the returned context instead of allocating
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value()->arena.get(), reused);
  EXPECT_EQ(pool.created(), 3u);
  // A fourth caller waits until one is returned.
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto e = pool.acquire();
    got = e.ok();
    pool.release(std::move(e).value());
  });
  pool.release(std::move(b).value());
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(pool.created(), 3u);
  pool.release(std::move(c).value());
  pool.release(std::move(d).value());
}

TEST(Concurrency, ArenaAllocationFailureIsALimitErrorAndFreesTheSlot) {
  deployrt::RunContextPool pool(uint64_t{1} << 62, 1);  // cannot be allocated
  for (int i = 0; i < 3; ++i) {  // the slot is given back each time: no deadlock
    auto r = pool.acquire();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), deployrt::ErrorCode::kLimit);
  }
  EXPECT_EQ(pool.created(), 0u);
}

}  // namespace
