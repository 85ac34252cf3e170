// Memory planner: overlapping lifetimes never share bytes, reuse happens when they do
// not, every offset is 64-aligned, and the limit is enforced with checked arithmetic.
#include <gtest/gtest.h>

#include <random>

#include "graph/memory_planner.h"

namespace {

using deployrt::BufferRequest;
using deployrt::ErrorCode;
using deployrt::plan_memory;

void expect_no_conflicts(const std::vector<BufferRequest>& req, const deployrt::MemoryPlan& plan) {
  for (size_t a = 0; a < req.size(); ++a) {
    EXPECT_EQ(plan.offsets[a] % 64, 0u);
    EXPECT_LE(plan.offsets[a] + req[a].bytes, plan.arena_bytes);
    for (size_t b = a + 1; b < req.size(); ++b) {
      const bool live_together = req[a].first <= req[b].last && req[b].first <= req[a].last;
      const bool overlap = plan.offsets[a] < plan.offsets[b] + std::max<uint64_t>(req[b].bytes, 1) &&
                           plan.offsets[b] < plan.offsets[a] + std::max<uint64_t>(req[a].bytes, 1);
      EXPECT_FALSE(live_together && overlap) << "buffers " << a << " and " << b;
    }
  }
}

TEST(Planner, ChainReusesTwoBuffers) {
  // x0 -> n0 -> x1 -> n1 -> ... each buffer read only by the next node.
  std::vector<BufferRequest> req;
  for (uint32_t i = 0; i < 10; ++i) req.push_back({1000, i, i + 1});
  auto plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  expect_no_conflicts(req, plan.value());
  EXPECT_EQ(plan.value().arena_bytes, 2u * 1024);  // 1000 rounded to 1024, ping-pong
  // Past the offline pass's buffer count only the node-order pass runs: the same plan.
  req.clear();
  for (uint32_t i = 0; i < 5000; ++i) req.push_back({1000, i, i + 1});
  plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan.value().arena_bytes, 2u * 1024);
}

TEST(Planner, BestFitPicksTheSmallestHole) {
  // Step 0: A(256) B(64) C(128) live; A and C die at 0 leaving holes of 256 and 128... then
  // a 128-byte buffer at step 1 must take the 128 hole, not split the 256 one.
  std::vector<BufferRequest> req = {{256, 0, 0}, {64, 0, 5}, {128, 0, 0}, {64, 0, 5}, {128, 1, 5}};
  auto plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok());
  expect_no_conflicts(req, plan.value());
  EXPECT_EQ(plan.value().offsets[4], plan.value().offsets[2]);
}

TEST(Planner, LargeBuffersFirstBeatNodeOrder) {
  // Node order: L1 (0..1) takes the bottom, the small S (1..3) goes on top of it, and when
  // L1 dies the larger L2 (2..3) does not fit in its hole: it goes above S (12352 bytes).
  // Placing L2 and L1 first (both at 0: they never live together) and S above them needs
  // only L2 + S, the lower bound (the most bytes live at any step).
  std::vector<BufferRequest> req = {{4096, 0, 1}, {64, 1, 3}, {8192, 2, 3}};
  auto plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok());
  expect_no_conflicts(req, plan.value());
  EXPECT_EQ(plan.value().arena_bytes, 8192u + 64u);
}

TEST(Planner, KernelWorkspaceFitsBetweenActivations) {
  // A workspace is a buffer live at its node's step only: it reuses the bytes of an
  // activation that died before that step instead of sitting on top of the arena.
  std::vector<BufferRequest> req = {{4096, 0, 1}, {1024, 1, 3}, {1024, 2, 3}, {2048, 2, 2}};
  auto plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok());
  expect_no_conflicts(req, plan.value());
  EXPECT_EQ(plan.value().arena_bytes, 4096u + 1024u);
}

TEST(Planner, ZeroByteBuffersStillGetDistinctSlots) {
  std::vector<BufferRequest> req = {{0, 0, 2}, {0, 1, 2}};
  auto plan = plan_memory(req, 1u << 30);
  ASSERT_TRUE(plan.ok());
  EXPECT_NE(plan.value().offsets[0], plan.value().offsets[1]);
}

TEST(Planner, LimitEnforcedWithoutOverflow) {
  std::vector<BufferRequest> req = {{uint64_t{1} << 40, 0, 1}};
  EXPECT_EQ(plan_memory(req, uint64_t{16} << 30).status().code(), ErrorCode::kLimit);
  req = {{UINT64_MAX - 10, 0, 1}};
  EXPECT_EQ(plan_memory(req, uint64_t{16} << 30).status().code(), ErrorCode::kLimit);
  req = {{64, 0, 1}, {UINT64_MAX - 3, 1, 1}};
  EXPECT_EQ(plan_memory(req, uint64_t{16} << 30).status().code(), ErrorCode::kLimit);
  // Many buffers alive together, each below the limit, summing above it.
  req.assign(5, {uint64_t{4} << 30, 0, 1});
  EXPECT_EQ(plan_memory(req, uint64_t{16} << 30).status().code(), ErrorCode::kLimit);
}

TEST(Planner, RandomLifetimesNeverConflict) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> req;
    for (int i = 0; i < 60; ++i) {
      uint32_t first = rng() % 40;
      req.push_back({rng() % 5000, first, first + static_cast<uint32_t>(rng() % 10)});
    }
    auto plan = plan_memory(req, 1u << 30);
    ASSERT_TRUE(plan.ok());
    expect_no_conflicts(req, plan.value());
    uint64_t sum = 0;
    for (const auto& r : req) sum += (std::max<uint64_t>(r.bytes, 1) + 63) / 64 * 64;
    EXPECT_LE(plan.value().arena_bytes, sum);
  }
}

}  // namespace
