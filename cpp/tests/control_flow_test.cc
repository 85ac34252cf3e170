// if (17) and loop (18) end to end: archives with subgraphs built by archive_builder.h,
// loaded and run through Module. Each branch, trip counts 0 / 1 / many, cond-terminated
// while loops, If nested in a Loop body, captures, i64 counters, concurrent calls, and
// bad archives (signature mismatches, implicit captures, wrong cond dtype) as typed errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "archive_builder.h"
#include "module_test_util.h"

namespace {

using namespace dkr_test::module_names;

constexpr uint32_t kNone = deployrt::archive::kNone;

Module load(ArchiveBuilder& b) {
  b.version_minor = 3;  // control-flow ops and i64/bool values (docs/archive-format.md, Versioning)
  return dkr_test::load_module(b.build());
}

Status load_status(ArchiveBuilder& b) {
  b.version_minor = 3;
  return dkr_test::load_status(b.build());
}

// y = cond ? x + x : x - c   (c a constant read inside the else branch)
ArchiveBuilder if_model() {
  A b;
  b.begin_subgraph("then");
  uint32_t tx = b.sub_input("then.x", DType::kF32, {3});
  uint32_t ty = b.node(OpKind::kAdd, "then.add", {tx, tx}, {3}, {A::float_attr("alpha", 1.0)});
  const uint32_t then_g = b.end_subgraph({ty});
  b.begin_subgraph("else");
  uint32_t ex = b.sub_input("else.x", DType::kF32, {3});
  uint32_t c = b.constant("c", {3}, {1, 2, 3});
  uint32_t ey = b.node(OpKind::kSub, "else.sub", {ex, c}, {3});
  const uint32_t else_g = b.end_subgraph({ey});
  uint32_t cond = b.input("cond", DType::kBool, {});
  uint32_t x = b.input("x", DType::kF32, {3});
  uint32_t y = b.node(OpKind::kIf, "if", {cond, x}, {3}, {A::graph_attr("then_branch", then_g), A::graph_attr("else_branch", else_g)});
  b.output(y);
  return b;
}

TEST(If, TakesEachBranch) {
  A b = if_model();
  Module m = load(b);
  std::vector<float> x = {1, -2, 5};
  for (uint8_t c : {uint8_t{1}, uint8_t{0}, uint8_t{7}}) {  // 7: a non-canonical true byte
    auto out = m.try_forward({Tensor::wrap(&c, DType::kBool, {}), Tensor::wrap(x.data(), DType::kF32, {3})});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(f32_values(out.value()[0]), c ? (std::vector<float>{2, -4, 10}) : (std::vector<float>{0, -4, 2}));
  }
}

// acc, count = loop(M, cond=NONE, acc=x, count=0; capture w): acc += w; count += iter
ArchiveBuilder counting_loop(bool with_max) {
  A b;
  b.begin_subgraph("body");
  uint32_t it = b.sub_input("iter", DType::kI64, {});
  uint32_t cin = b.sub_input("cond_in", DType::kBool, {});
  uint32_t acc = b.sub_input("acc", DType::kF32, {2});
  uint32_t count = b.sub_input("count", DType::kI64, {});
  uint32_t w = b.sub_input("w", DType::kF32, {2});
  uint32_t acc2 = b.node(OpKind::kAdd, "body.acc", {acc, w}, {2}, {A::float_attr("alpha", 1.0)});
  uint32_t count2 = b.node_of(OpKind::kAdd, DType::kI64, "body.count", {count, it}, {}, {A::float_attr("alpha", 1.0)});
  const uint32_t body = b.end_subgraph({cin, acc2, count2});  // cond_out passes cond_in through
  uint32_t max_trips = with_max ? b.input("M", DType::kI64, {}) : kNone;
  uint32_t x = b.input("x", DType::kF32, {2});
  uint32_t wv = b.input("w", DType::kF32, {2});
  uint32_t zero = b.typed_constant<int64_t>("zero", DType::kI64, {}, {0});
  auto outs = b.node_multi(OpKind::kLoop, "loop", {max_trips, kNone, x, zero, wv}, {{DType::kF32, {2}}, {DType::kI64, {}}},
                           {A::graph_attr("body", body), A::int_attr("num_carried", 2)});
  b.output(outs[0]);
  b.output(outs[1]);
  return b;
}

TEST(Loop, TripCountsZeroOneMany) {
  A b = counting_loop(true);
  Module m = load(b);
  std::vector<float> x = {1, 2}, w = {0.5f, -1};
  for (int64_t trips : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{37}, int64_t{-3}}) {
    auto out = m.try_forward({Tensor::wrap(&trips, DType::kI64, {}), Tensor::wrap(x.data(), DType::kF32, {2}),
                              Tensor::wrap(w.data(), DType::kF32, {2})});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const int64_t n = trips < 0 ? 0 : trips;  // i < M is false at once for M <= 0
    std::vector<float> acc = x;
    for (int64_t i = 0; i < n; ++i) {
      acc[0] += w[0];
      acc[1] += w[1];
    }
    EXPECT_EQ(f32_values(out.value()[0]), acc) << "trips " << trips;
    EXPECT_EQ(*out.value()[1].data_as<int64_t>(), n * (n - 1) / 2) << "trips " << trips;
    EXPECT_EQ(out.value()[1].dtype(), DType::kI64);
  }
}

// k = 0; while (k < limit) k += 1   (no max_trip_count; cond computed before and in the body)
ArchiveBuilder while_loop() {
  A b;
  uint32_t one = b.typed_constant<int64_t>("one", DType::kI64, {}, {1});
  b.begin_subgraph("body");
  b.sub_input("iter", DType::kI64, {});
  b.sub_input("cond_in", DType::kBool, {});
  uint32_t k = b.sub_input("k", DType::kI64, {});
  uint32_t lim = b.sub_input("limit", DType::kI64, {});
  uint32_t k2 = b.node_of(OpKind::kAdd, DType::kI64, "body.inc", {k, one}, {}, {A::float_attr("alpha", 1.0)});
  uint32_t c2 = b.node_of(OpKind::kCompare, DType::kBool, "body.lt", {k2, lim}, {}, {A::int_attr("mode", 2)});
  const uint32_t body = b.end_subgraph({c2, k2});
  uint32_t limit = b.input("limit", DType::kI64, {});
  uint32_t k0 = b.typed_constant<int64_t>("k0", DType::kI64, {}, {0});
  uint32_t c0 = b.node_of(OpKind::kCompare, DType::kBool, "lt0", {k0, limit}, {}, {A::int_attr("mode", 2)});
  uint32_t out = b.node_of(OpKind::kLoop, DType::kI64, "while", {kNone, c0, k0, limit}, {},
                           {A::graph_attr("body", body), A::int_attr("num_carried", 1)});
  b.output(out);
  return b;
}

TEST(Loop, WhileTerminatesOnCond) {
  A b = while_loop();
  Module m = load(b);
  for (int64_t limit : {int64_t{-5}, int64_t{0}, int64_t{1}, int64_t{1000}}) {
    auto out = m.try_forward({Tensor::wrap(&limit, DType::kI64, {})});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(*out.value()[0].data_as<int64_t>(), limit < 0 ? 0 : limit) << "limit " << limit;
  }
}

// for i in range(M): acc = acc + 1 if i < 3 else acc * 2    (If nested in the Loop body)
ArchiveBuilder nested_model() {
  A b;
  uint32_t three = b.typed_constant<int64_t>("three", DType::kI64, {}, {3});
  uint32_t ones = b.constant("ones", {2}, {1, 1});
  uint32_t twos = b.constant("twos", {2}, {2, 2});
  b.begin_subgraph("then");
  uint32_t ta = b.sub_input("then.acc", DType::kF32, {2});
  uint32_t ty = b.node(OpKind::kAdd, "then.add", {ta, ones}, {2}, {A::float_attr("alpha", 1.0)});
  const uint32_t then_g = b.end_subgraph({ty});
  b.begin_subgraph("else");
  uint32_t ea = b.sub_input("else.acc", DType::kF32, {2});
  uint32_t ey = b.node(OpKind::kMul, "else.mul", {ea, twos}, {2});
  const uint32_t else_g = b.end_subgraph({ey});
  b.begin_subgraph("body");
  uint32_t it = b.sub_input("iter", DType::kI64, {});
  uint32_t cin = b.sub_input("cond_in", DType::kBool, {});
  uint32_t acc = b.sub_input("acc", DType::kF32, {2});
  uint32_t lt = b.node_of(OpKind::kCompare, DType::kBool, "body.lt", {it, three}, {}, {A::int_attr("mode", 2)});
  uint32_t acc2 = b.node(OpKind::kIf, "body.if", {lt, acc}, {2},
                         {A::graph_attr("then_branch", then_g), A::graph_attr("else_branch", else_g)});
  const uint32_t body = b.end_subgraph({cin, acc2});
  uint32_t max_trips = b.input("M", DType::kI64, {});
  uint32_t x = b.input("x", DType::kF32, {2});
  uint32_t out = b.node(OpKind::kLoop, "loop", {max_trips, kNone, x}, {2},
                        {A::graph_attr("body", body), A::int_attr("num_carried", 1)});
  b.output(out);
  return b;
}

std::vector<float> nested_expected(int64_t trips, std::vector<float> acc) {
  for (int64_t i = 0; i < trips; ++i) {
    for (float& v : acc) v = i < 3 ? v + 1 : v * 2;
  }
  return acc;
}

TEST(Loop, NestedIfInBody) {
  A b = nested_model();
  Module m = load(b);
  std::vector<float> x = {0.5f, -4};
  for (int64_t trips : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{5}}) {
    auto out = m.try_forward({Tensor::wrap(&trips, DType::kI64, {}), Tensor::wrap(x.data(), DType::kF32, {2})});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(f32_values(out.value()[0]), nested_expected(trips, x)) << "trips " << trips;
  }
}

TEST(Loop, ConcurrentCallsAreIndependent) {
  A b = nested_model();
  b.version_minor = 3;
  const std::vector<uint8_t> bytes = b.build();
  LoadOptions options;
  options.num_threads = 2;
  options.max_concurrent_calls = 4;
  auto loaded = Module::try_load_from_memory(bytes.data(), bytes.size(), options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const Module& m = loaded.value();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 50; ++r) {
        int64_t trips = (t + r) % 7;
        std::vector<float> x = {static_cast<float>(t), static_cast<float>(r)};
        auto out = m.try_forward({Tensor::wrap(&trips, DType::kI64, {}), Tensor::wrap(x.data(), DType::kF32, {2})});
        if (!out.ok() || f32_values(out.value()[0]) != nested_expected(trips, x)) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

TEST(Loop, WorkspaceHoldsBodyArenaAndCarriedBuffers) {
  A b = counting_loop(true);
  Module m = load(b);
  // Two double-buffered carried values (f32[2], i64[]) and the scalars block, 64 bytes
  // each at least: the arena must hold them besides the body's own arena.
  EXPECT_GE(m.arena_bytes(), 5u * 64u);
}

// ---- bad archives -------------------------------------------------------------------------

TEST(ControlFlowErrors, BranchSignatureMismatch) {
  A b;
  b.begin_subgraph("then");
  uint32_t tx = b.sub_input("then.x", DType::kF32, {3});
  uint32_t ty = b.node(OpKind::kRelu, "then.relu", {tx}, {3});
  const uint32_t then_g = b.end_subgraph({ty});
  b.begin_subgraph("else");
  b.sub_input("else.x", DType::kF32, {3});
  uint32_t c = b.constant("c2", {2}, {1, 2});
  const uint32_t else_g = b.end_subgraph({c});  // f32[2], not f32[3]
  uint32_t cond = b.input("cond", DType::kBool, {});
  uint32_t x = b.input("x", DType::kF32, {3});
  b.output(b.node(OpKind::kIf, "if", {cond, x}, {3}, {A::graph_attr("then_branch", then_g), A::graph_attr("else_branch", else_g)}));
  EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "then_branch returns f32[3], else_branch returns f32[2]");
}

TEST(ControlFlowErrors, BranchInputsMustMatchCaptures) {
  A b = if_model();
  b.values[b.graph_inputs[1]].dims[0] = 4;  // x is f32[4]; the branches take f32[3]
  b.values.back().dims[0] = 4;              // (keep the node's own output consistent)
  EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "then_branch (graph 1): graph 1 'then' input 0");
}

TEST(ControlFlowErrors, ImplicitCaptureIsRejected) {
  A b;
  uint32_t x = b.input("x", DType::kF32, {3});  // defined in graph 0 ...
  b.begin_subgraph("then");
  uint32_t ty = b.node(OpKind::kRelu, "then.relu", {x}, {3});  // ... used in graph 1 without being passed
  const uint32_t then_g = b.end_subgraph({ty});
  b.begin_subgraph("else");
  uint32_t ey = b.node(OpKind::kSigmoid, "else.sigmoid", {x}, {3});
  const uint32_t else_g = b.end_subgraph({ey});
  uint32_t cond = b.input("cond", DType::kBool, {});
  b.output(b.node(OpKind::kIf, "if", {cond}, {3}, {A::graph_attr("then_branch", then_g), A::graph_attr("else_branch", else_g)}));
  EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "in graph 1: input 0 uses value 0 'x'");
}

TEST(ControlFlowErrors, WrongCondDtype) {
  A b = if_model();
  b.values[b.graph_inputs[0]].dtype = static_cast<uint32_t>(DType::kF32);
  EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "input 'cond' must be bool, got f32[]");
  A m = counting_loop(true);
  m.values[m.graph_inputs[0]].dtype = static_cast<uint32_t>(DType::kF32);  // M: f32[] instead of i64[]
  EXPECT_ERROR(load_status(m), ErrorCode::kArchive, "input 'max_trip_count' must be i64, got f32[]");
}

TEST(ControlFlowErrors, LoopBodySignature) {
  {  // body's cond_out is not bool
    A b = while_loop();
    const uint32_t first = b.subgraph_rows[0].output_begin;
    std::swap(b.indices[first], b.indices[first + 1]);  // (k2, c2): cond_out is i64
    EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "body output 0 (cond_out) is i64[], expected bool[]");
  }
  {  // num_carried beyond the inputs
    A b = while_loop();
    for (auto& a : b.attrs) {
      if (b.strings[a.name] == "num_carried") a.a = 5;
    }
    EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "attribute 'num_carried' = 5 is out of range");
  }
  {  // the node lists more outputs than the body carries
    A b = counting_loop(true);
    b.nodes.back().output_count = 1;
    b.graph_outputs.pop_back();
    EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "has 1 outputs, its subgraphs produce 2");
  }
  {  // missing GRAPH attribute
    A b = while_loop();
    for (auto& a : b.attrs) {
      if (b.strings[a.name] == "body") a.name = b.str("bodyx");
    }
    EXPECT_ERROR(load_status(b), ErrorCode::kArchive, "missing attribute 'body'");
  }
}

}  // namespace
