// One Module, many threads (BAD_INPUTS.md case 23): concurrent forward() calls give
// bit-identical results to sequential ones, run on separate per-call arenas, and never
// hold more arenas than LoadOptions.max_concurrent_calls. Run under TSan by
// `make test` (build/tsan), which is what proves the absence of data races.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "api/prepack.h"
#include "api/run_context.h"
#include "archive/format.h"
#include "archive/packed_weights.h"
#include "archive/reader.h"
#include "core/crc32c.h"
#include "every_op_archive.h"
#include "module_test_util.h"
#include "prepacked_test_model.h"

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

// A prepacked format-1.5 archive (packed bytes read in place, per-tensor CRCs), as the
// loader checksums it: on a worker (ThreadPool::run_async) while the loading thread
// prepares the ops and faults the first call's arena in, then joins. Loaded many times at
// 2 and 3 threads (the TSan list runs this), it runs exactly as at one thread, and a flip
// in a packed tensor still fails the load naming it.
TEST(Concurrency, PrepackedLoadChecksumsOnAWorkerWhileItPrepares) {
  auto build = [](const std::vector<deployrt::PrepackedRecord>* records) {
    dkr_test::ArchiveBuilder b;
    dkr_test::add_prepacked_test_graph(b);
    if (records != nullptr) {
      b.version_minor = deployrt::archive::kVersionMinorPackedWeights;
      b.extra_sections.push_back(
          {deployrt::archive::kSectionPackedWeights, dkr_test::packed_weights_payload(b, *records)});
      std::vector<uint8_t> s(8 + 4 * b.tensors.size(), 0);
      dkr_test::put_u32(s, 0, static_cast<uint32_t>(b.tensors.size()));
      for (size_t i = 0; i < b.tensors.size(); ++i) {
        dkr_test::put_u32(s, 8 + 4 * i, deployrt::crc32c(b.tensors[i].data.data(), b.tensors[i].nbytes));
      }
      b.version_minor = deployrt::archive::kVersionMinorTensorCrcs;
      b.extra_sections.push_back({deployrt::archive::kSectionTensorCrcs, s});
    }
    return b.build();
  };
  const std::string plain = dkr_test::write_temp(build(nullptr), "concurrency_prepack_src.dkr");
  auto records = deployrt::prepack_weights(plain, deployrt::Isa::kBest);
  std::remove(plain.c_str());
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  ASSERT_FALSE(records.value().empty());
  const std::vector<uint8_t> bytes = build(&records.value());
  Tensor x = Tensor::empty(DType::kF32, {1, 16, 16, 16});
  for (int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = static_cast<float>(i % 29) * 0.03f - 0.4f;
  const std::vector<float> want = dkr_test::f32_values(dkr_test::load_module(bytes).forward({x})[0]);
  for (int threads : {2, 3}) {
    LoadOptions options;
    options.num_threads = threads;
    for (int round = 0; round < 20; ++round) {
      Module m = dkr_test::load_module(bytes, options);
      ASSERT_EQ(dkr_test::f32_values(m.forward({x})[0]), want) << "threads " << threads << " round " << round;
    }
  }
  // The last tensor is the last record's packed bytes, read in place at this level.
  std::vector<uint8_t> corrupt = bytes;
  auto view = deployrt::archive::ArchiveView::verify(corrupt.data(), corrupt.size());
  ASSERT_TRUE(view.ok());
  const uint32_t last = view.value().tensor_count() - 1;
  corrupt[static_cast<size_t>(view.value().tensor_data(last) - corrupt.data())] ^= 0x10;
  LoadOptions two;
  two.num_threads = 2;
  const deployrt::Status st = dkr_test::load_status(corrupt, two);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), deployrt::ErrorCode::kArchive);
  EXPECT_NE(st.message().find("tensor " + std::to_string(last)), std::string::npos) << st.message();
}

TEST(Concurrency, RunContextPoolPreallocatesTheFirstCallsArena) {
  deployrt::RunContextPool pool(4096, 2);
  uint64_t bytes = 0;
  void* arena = pool.preallocate(&bytes);
  ASSERT_NE(arena, nullptr);
  EXPECT_EQ(bytes, 4096u);
  EXPECT_EQ(pool.created(), 1u);
  EXPECT_EQ(pool.preallocate(&bytes), nullptr) << "only before any context exists";
  auto a = pool.acquire();  // the preallocated context, not a new one
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value()->arena.get(), arena);
  EXPECT_EQ(pool.created(), 1u);
  pool.release(std::move(a).value());
  deployrt::RunContextPool too_large(uint64_t{1} << 62, 1);  // cannot be allocated
  EXPECT_EQ(too_large.preallocate(&bytes), nullptr);
  EXPECT_EQ(too_large.created(), 0u);
  auto r = too_large.acquire();  // tries again, as without preallocate
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(too_large.created(), 0u);
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
