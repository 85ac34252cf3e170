// Module end to end: archives built with archive_builder.h, loaded from a file and from
// memory, run with exact expected values; input mismatches are kInput errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "api/module_impl.h"
#include "archive_builder.h"
#include "module_test_util.h"

namespace {

using namespace dkr_test::module_names;
using dkr_test::write_temp;

TEST(Module, LoadsFromFileAndRunsExactly) {
  const std::string path = write_temp(dkr_test::small_model().build(), "small.dkr");
  auto loaded = Module::try_load(path, {2});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const Module& m = loaded.value();
  ASSERT_EQ(m.inputs().size(), 2u);
  EXPECT_EQ(m.inputs()[0].name, "x");
  EXPECT_EQ(m.inputs()[0].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.num_nodes(), 3u);
  EXPECT_EQ(m.num_threads(), 2);
  EXPECT_GT(m.arena_bytes(), 0u);
  EXPECT_NE(m.metadata().find("deploykit-test"), std::string::npos);

  std::vector<float> x = {-1, 2, -3, 4, -5, 6}, w = {10, 20, 30, 40, 50, 60};
  auto out = m.try_forward({Tensor::wrap(x.data(), DType::kF32, {2, 3}), Tensor::wrap(w.data(), DType::kF32, {2, 3})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(out.value().size(), 2u);
  // z = relu(x) + c + 0.5 w, c = 1..6 ; r = relu(x). All exactly representable.
  EXPECT_EQ(f32_values(out.value()[0]), (std::vector<float>{6, 14, 18, 28, 30, 42}));
  EXPECT_EQ(f32_values(out.value()[1]), (std::vector<float>{0, 2, 0, 4, 0, 6}));
  EXPECT_EQ(out.value()[0].shape(), (std::vector<int64_t>{2, 3}));
  // A second run reuses the arena and gives the same answer.
  auto again = m.try_forward({Tensor::wrap(x.data(), DType::kF32, {2, 3}), Tensor::wrap(w.data(), DType::kF32, {2, 3})});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(f32_values(again.value()[0]), f32_values(out.value()[0]));
  std::remove(path.c_str());
}

TEST(Module, Conv2dGraph) {
  // y = relu(conv2d(x, w, b)) with a 1x1 kernel, 2 -> 1 channels: y = relu(x0 + 2 x1 - 3).
  ArchiveBuilder b;
  uint32_t x = b.input("x", DType::kF32, {1, 2, 2, 2});
  uint32_t wt = b.constant("conv.weight", {1, 2, 1, 1}, {1, 2});
  uint32_t bias = b.constant("conv.bias", {1}, {-3});
  uint32_t c = b.node(OpKind::kConv2d, "conv", {x, wt, bias}, {1, 1, 2, 2},
                      {ArchiveBuilder::ints_attr("stride", {1, 1}), ArchiveBuilder::ints_attr("pads", {0, 0, 0, 0}),
                       ArchiveBuilder::ints_attr("dilation", {1, 1}), ArchiveBuilder::int_attr("groups", 1)});
  b.output(b.node(OpKind::kRelu, "relu", {c}, {1, 1, 2, 2}));
  const auto bytes = b.build();
  auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  std::vector<float> in = {1, 2, 3, 4, 0, 1, 0, 1};  // channel 0 then channel 1
  auto out = m.value().try_forward({Tensor::wrap(in.data(), DType::kF32, {1, 2, 2, 2})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(f32_values(out.value()[0]), (std::vector<float>{0, 1, 0, 3}));
}

TEST(Module, OutputsThatAreInputsOrConstantsAreCopied) {
  ArchiveBuilder b;
  uint32_t x = b.input("x", DType::kF32, {3});
  uint32_t c = b.constant("c", {2}, {7, 8});
  b.output(b.node(OpKind::kRelu, "relu", {x}, {3}));
  b.output(x);
  b.output(c);
  const auto bytes = b.build();
  auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  std::vector<float> in = {-1, 0, 5};
  auto out = m.value().try_forward({Tensor::wrap(in.data(), DType::kF32, {3})});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(f32_values(out.value()[0]), (std::vector<float>{0, 0, 5}));
  EXPECT_EQ(f32_values(out.value()[1]), in);
  EXPECT_NE(out.value()[1].data(), static_cast<const void*>(in.data()));  // a copy, not an alias
  EXPECT_EQ(f32_values(out.value()[2]), (std::vector<float>{7, 8}));
}

TEST(Module, WrongInputsAreInputErrors) {
  const auto bytes = dkr_test::small_model().build();
  auto loaded = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_TRUE(loaded.ok());
  const Module& m = loaded.value();
  std::vector<float> buf(12, 1.0f);
  auto ok_tensor = Tensor::wrap(buf.data(), DType::kF32, {2, 3});

  auto count = m.try_forward({ok_tensor});
  EXPECT_EQ(count.status().code(), ErrorCode::kInput);
  EXPECT_EQ(count.status().message(), "expected 2 inputs, got 1");

  auto shape = m.try_forward({Tensor::wrap(buf.data(), DType::kF32, {2, 4}), ok_tensor});
  EXPECT_EQ(shape.status().code(), ErrorCode::kInput);
  EXPECT_EQ(shape.status().message(), "input 0 'x': expected f32[2,3], got f32[2,4]");

  auto dtype = m.try_forward({ok_tensor, Tensor::wrap(buf.data(), DType::kI32, {2, 3})});
  EXPECT_EQ(dtype.status().code(), ErrorCode::kInput);
  EXPECT_EQ(dtype.status().message(), "input 1 'w': expected f32[2,3], got i32[2,3]");

  auto rank = m.try_forward({Tensor::wrap(buf.data(), DType::kF32, {6}), ok_tensor});
  EXPECT_EQ(rank.status().code(), ErrorCode::kInput);

  auto null_data = m.try_forward({Tensor::wrap(static_cast<void*>(nullptr), DType::kF32, {2, 3}), ok_tensor});
  EXPECT_EQ(null_data.status().code(), ErrorCode::kInput);

  EXPECT_THROW(m.forward({ok_tensor}), deployrt::Error);
}

TEST(Module, LoadErrorsAreTyped) {
  auto missing = Module::try_load("/nonexistent/model.dkr");
  EXPECT_EQ(missing.status().code(), ErrorCode::kIo);
  const std::string empty = write_temp({}, "empty.dkr");
  auto e = Module::try_load(empty);
  EXPECT_EQ(e.status().code(), ErrorCode::kArchive);
  EXPECT_NE(e.status().message().find("empty"), std::string::npos) << e.status().message();
  std::remove(empty.c_str());
  auto dir = Module::try_load(::testing::TempDir());
  EXPECT_EQ(dir.status().code(), ErrorCode::kIo);
  Module unloaded;
  EXPECT_EQ(unloaded.try_forward({}).status().code(), ErrorCode::kInternal);
  EXPECT_TRUE(unloaded.inputs().empty());
}

TEST(Module, ConcurrentForwardMatchesSequential) {
  const auto bytes = dkr_test::small_model().build();
  auto loaded = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {2});
  ASSERT_TRUE(loaded.ok());
  const Module& m = loaded.value();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> x(6, static_cast<float>(t)), w(6, 2.0f);
      for (int i = 0; i < 200; ++i) {
        auto out = m.try_forward({Tensor::wrap(x.data(), DType::kF32, {2, 3}), Tensor::wrap(w.data(), DType::kF32, {2, 3})});
        if (!out.ok() || out.value()[0].data_as<float>()[0] != static_cast<float>(t) + 1 + 1) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Module, DefaultThreadsUseHardwareConcurrency) {
  const auto bytes = dkr_test::small_model().build();
  auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.value().num_threads(), std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_EQ(Module::Impl::load_from_memory(bytes.data(), bytes.size(), {-1}).status().code(), ErrorCode::kInput);
  EXPECT_STREQ(deployrt::version(), "0.1.0");
}

}  // namespace
