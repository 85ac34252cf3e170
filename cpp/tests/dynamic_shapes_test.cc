// Dynamic shapes (format 1.2, api/shape_specializer.h): symbolic input dims, per-shape
// specialization, symbol binding errors, LRU eviction, packed weights shared by every
// specialization, and concurrent calls with alternating shapes (run under TSan by make test).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "api/module_impl.h"
#include "archive_builder.h"
#include "module_test_util.h"

namespace {

using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::LoadOptions;
using deployrt::Module;
using deployrt::OpKind;
using deployrt::Tensor;
using dkr_test::ArchiveBuilder;
using A = ArchiveBuilder;

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(i % 11) - 5) * scale;
  return v;
}

// x[N,3,H,W] -> conv 3x3 pad 1 (16 channels: the packed GEMM path) -> relu -> max_pool 2x2
// -> adaptive_avg_pool 1x1 -> flatten -> linear (GEMV path) -> [N,4], plus y[N,4] added
// at the end so a symbol is shared by two inputs. With `symbolic`, N, H, W are symbols
// (named dims stored as -(1 + name)); the intermediates after the pool are unnamed (-1).
// Otherwise every dim is the given concrete size: the static oracle for that shape.
std::vector<uint8_t> model(bool symbolic, int64_t n = 0, int64_t h = 0, int64_t w = 0) {
  ArchiveBuilder b;
  const int64_t N = symbolic ? -(1 + static_cast<int64_t>(b.str("N"))) : n;
  const int64_t H = symbolic ? -(1 + static_cast<int64_t>(b.str("H"))) : h;
  const int64_t W = symbolic ? -(1 + static_cast<int64_t>(b.str("W"))) : w;
  const int64_t PH = symbolic ? -1 : h / 2, PW = symbolic ? -1 : w / 2;
  const uint32_t first_value = static_cast<uint32_t>(b.values.size());
  const uint32_t x = b.input("x", DType::kF32, {N, 3, H, W});
  const uint32_t y_in = b.input("y", DType::kF32, {N, 4});
  const uint32_t cw = b.constant("conv.w", {16, 3, 3, 3}, ramp(16 * 27, 0.05f));
  const uint32_t cb = b.constant("conv.b", {16}, ramp(16, 0.1f));
  uint32_t v = b.node(OpKind::kConv2d, "conv", {x, cw, cb}, {N, 16, H, W},
                      {A::ints_attr("stride", {1, 1}), A::ints_attr("pads", {1, 1, 1, 1}),
                       A::ints_attr("dilation", {1, 1}), A::int_attr("groups", 1)});
  v = b.node(OpKind::kRelu, "relu", {v}, {N, 16, H, W});
  v = b.node(OpKind::kMaxPool2d, "pool", {v}, {N, 16, PH, PW},
             {A::ints_attr("kernel", {2, 2}), A::ints_attr("stride", {2, 2}), A::ints_attr("pads", {0, 0, 0, 0}),
              A::ints_attr("dilation", {1, 1}), A::int_attr("ceil_mode", 0)});
  v = b.node(OpKind::kAdaptiveAvgPool2d, "gap", {v}, {N, 16, 1, 1}, {A::ints_attr("output_size", {1, 1})});
  v = b.node(OpKind::kFlatten, "flatten", {v}, {N, 16}, {A::int_attr("start_dim", 1), A::int_attr("end_dim", 3)});
  const uint32_t fw = b.constant("fc.w", {4, 16}, ramp(64, 0.2f));
  v = b.node(OpKind::kLinear, "fc", {v, fw}, {N, 4});
  v = b.node(OpKind::kAdd, "add", {v, y_in}, {N, 4}, {A::float_attr("alpha", 1.0)});
  b.output(v);
  if (symbolic) {
    for (uint32_t id = first_value; id < b.values.size(); ++id) {
      for (int64_t d : b.values[id].dims) b.values[id].flags |= d < 0 ? 1u : 0u;
    }
    b.version_minor = 2;
  }
  return b.build();
}

using dkr_test::load_module;

struct Inputs {
  std::vector<float> x, y;
  std::vector<Tensor> tensors;
  Inputs(int64_t n, int64_t h, int64_t w, int64_t c = 3, int64_t yn = -1) {
    x = ramp(static_cast<size_t>(n * c * h * w), 0.1f);
    yn = yn < 0 ? n : yn;
    y = ramp(static_cast<size_t>(yn * 4), 0.3f);
    tensors = {Tensor::wrap(x.data(), DType::kF32, {n, c, h, w}), Tensor::wrap(y.data(), DType::kF32, {yn, 4})};
  }
};

using dkr_test::f32_values;

TEST(DynamicShapes, InputsAndOutputsReportSymbols) {
  Module m = load_module(model(true));
  ASSERT_EQ(m.inputs().size(), 2u);
  EXPECT_EQ(m.inputs()[0].shape, (std::vector<int64_t>{-1, 3, -1, -1}));
  EXPECT_EQ(m.inputs()[0].dim_names, (std::vector<std::string>{"N", "", "H", "W"}));
  EXPECT_EQ(m.inputs()[1].dim_names, (std::vector<std::string>{"N", ""}));
  EXPECT_EQ(m.outputs()[0].shape, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(m.outputs()[0].dim_names, (std::vector<std::string>{"N", ""}));
  EXPECT_EQ(m.arena_bytes(), 0u);  // nothing planned before the first call
}

TEST(DynamicShapes, EachShapeMatchesTheStaticModelOfThatShape) {
  Module dynamic = load_module(model(true));
  for (auto [n, h, w] : {std::tuple<int64_t, int64_t, int64_t>{1, 8, 8}, {2, 5, 7}, {3, 16, 9}, {1, 2, 2}}) {
    Inputs in(n, h, w);
    std::vector<Tensor> got = dynamic.forward(in.tensors);
    std::vector<Tensor> want = load_module(model(false, n, h, w)).forward(in.tensors);
    ASSERT_EQ(got[0].shape(), (std::vector<int64_t>{n, 4}));
    EXPECT_EQ(f32_values(got[0]), f32_values(want[0])) << "N=" << n << " H=" << h << " W=" << w;
    // forward_into takes outputs of the inferred shape, and only those.
    std::vector<Tensor> into = {Tensor::empty(DType::kF32, {n, 4})};
    dynamic.forward_into(in.tensors, into);
    EXPECT_EQ(f32_values(into[0]), f32_values(want[0]));
    std::vector<Tensor> wrong = {Tensor::empty(DType::kF32, {n + 1, 4})};
    EXPECT_EQ(dynamic.try_forward_into(in.tensors, wrong).code(), ErrorCode::kInput);
  }
}

void expect_input_error(const Module& m, const std::vector<Tensor>& args, const std::vector<std::string>& parts) {
  auto r = m.try_forward(args);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInput) << r.status().to_string();
  for (const std::string& part : parts) {
    EXPECT_NE(r.status().message().find(part), std::string::npos) << "'" << part << "' not in: " << r.status().message();
  }
}

TEST(DynamicShapes, InputsTheModelCannotTakeAreRejectedClearly) {
  Module m = load_module(model(true));
  Inputs channels(1, 8, 8, /*c=*/4);
  expect_input_error(m, channels.tensors, {"input 0 'x'", "dim 1 is 4", "needs 3", "f32[N,3,H,W]"});
  Inputs mismatch(3, 8, 8, 3, /*yn=*/2);
  expect_input_error(m, mismatch.tensors, {"input 1 'y'", "symbol N", "is 2", "N = 3 from input 0 'x' dim 0"});
  std::vector<float> flat(3 * 8 * 8);
  Inputs ok(1, 8, 8);
  expect_input_error(m, {Tensor::wrap(flat.data(), DType::kF32, {3, 8, 8}), ok.tensors[1]}, {"input 0 'x'", "f32[N,3,H,W]"});
  Inputs tiny(1, 1, 8);  // a 2x2 pooling window does not fit in H = 1
  expect_input_error(m, tiny.tensors, {"cannot take", "f32[1,3,1,8]", "max_pool2d 'pool'", "model.py:3"});
  expect_input_error(m, {ok.tensors[0]}, {"expected 2 inputs, got 1"});
  // A failed shape leaves nothing cached and the module usable.
  EXPECT_EQ(Module::Impl::of(m)->specializer()->cached(), 0u);
  EXPECT_TRUE(m.try_forward(ok.tensors).ok());
}

TEST(DynamicShapes, SpecializationsAreCachedLruAndBounded) {
  LoadOptions options;
  options.max_shape_specializations = 2;
  Module m = load_module(model(true), options);
  const deployrt::ShapeSpecializer& s = *Module::Impl::of(m)->specializer();
  Inputs a(1, 8, 8), b(2, 6, 6), c(1, 4, 10);
  auto run = [&](Inputs& in) { ASSERT_TRUE(m.try_forward(in.tensors).ok()); };
  run(a);
  run(b);
  run(a);
  EXPECT_EQ(s.built(), 2u);  // a again: cached
  run(c);                    // evicts b, the least recently used
  EXPECT_EQ(s.built(), 3u);
  EXPECT_EQ(s.cached(), 2u);
  run(a);
  EXPECT_EQ(s.built(), 3u);
  run(b);
  EXPECT_EQ(s.built(), 4u);
  EXPECT_EQ(s.cached(), 2u);
  // Same results from a rebuilt specialization.
  EXPECT_EQ(f32_values(m.forward(b.tensors)[0]), f32_values(load_module(model(false, 2, 6, 6)).forward(b.tensors)[0]));
}

TEST(DynamicShapes, WeightsArePackedOncePerModuleNotPerShape) {
  LoadOptions options;
  options.max_shape_specializations = 1;  // every shape change re-specializes
  Module m = load_module(model(true), options);
  const deployrt::ShapeSpecializer& s = *Module::Impl::of(m)->specializer();
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {{1, 8, 8}, {2, 8, 8}, {1, 12, 6}, {4, 3, 5}};
  for (auto [n, h, w] : shapes) {
    Inputs in(n, h, w);
    m.forward(in.tensors);
  }
  // One pack per (weight, microkernel tile): the conv's GEMM A panels (a tile may differ
  // with the output size) and the linear's GEMV panels; far fewer than 2 per shape.
  const uint64_t packed = s.weight_packings();
  EXPECT_GE(packed, 2u);
  EXPECT_LT(packed, 2 * shapes.size());
  for (int round = 0; round < 2; ++round) {
    for (auto [n, h, w] : shapes) {
      Inputs in(n, h, w);
      m.forward(in.tensors);
    }
  }
  EXPECT_EQ(s.built(), 3 * shapes.size());  // rebuilt every time (capacity 1)...
  EXPECT_EQ(s.weight_packings(), packed);   // ...but never repacked
}

TEST(DynamicShapes, ConcurrentCallsWithAlternatingShapes) {
  LoadOptions options;
  options.num_threads = 2;
  options.max_shape_specializations = 2;  // three shapes: eviction while other calls run
  Module m = load_module(model(true), options);
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {{1, 8, 8}, {2, 5, 7}, {3, 6, 4}};
  std::vector<std::vector<float>> expected;
  for (auto [n, h, w] : shapes) {
    Inputs in(n, h, w);
    expected.push_back(f32_values(load_module(model(false, n, h, w)).forward(in.tensors)[0]));
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < 12; ++call) {
        const size_t k = static_cast<size_t>(t + call) % shapes.size();
        auto [n, h, w] = shapes[k];
        Inputs in(n, h, w);
        auto r = m.try_forward(in.tensors);
        if (!r.ok() || f32_values(r.value()[0]) != expected[k]) ++failures[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(DynamicShapes, VerifierRules) {
  // Symbolic dims need format 1.2: a 1.1 archive with flags set is rejected.
  std::vector<uint8_t> bytes = model(true);
  dkr_test::put_u16(bytes, deployrt::archive::kHdrMinor, 1);
  dkr_test::fix_crcs(bytes);
  auto old = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), ErrorCode::kArchive);
  EXPECT_NE(old.status().message().find("flags"), std::string::npos) << old.status().message();
  // An input dim must be named: -1 (string 0) there cannot be bound.
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {-1, 4});
  b.values[x].flags = 1;
  b.output(b.node(OpKind::kRelu, "relu", {x}, {-1, 4}));
  b.values.back().flags = 1;
  b.version_minor = 2;
  bytes = b.build();
  auto unnamed = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_FALSE(unnamed.ok());
  EXPECT_NE(unnamed.status().message().find("without a name"), std::string::npos) << unnamed.status().message();
  // Negative dims without the flag stay invalid.
  ArchiveBuilder c;
  const uint32_t y = c.input("x", DType::kF32, {-2, 4});
  c.output(c.node(OpKind::kRelu, "relu", {y}, {-2, 4}));
  c.version_minor = 2;
  bytes = c.build();
  auto negative = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("negative"), std::string::npos) << negative.status().message();
}

}  // namespace
