// Executor::create: how constants are bound (copied out of the archive or used in place).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "archive/reader.h"
#include "graph/executor.h"
#include "graph/graph_builder.h"
#include "ops/conv2d_winograd.h"
#include "prepacked_test_model.h"

namespace {

using namespace deployrt;

size_t step_of(const Executor& ex, const std::string& name) {
  for (size_t s = 0; s < ex.num_nodes(); ++s) {
    if (ex.node_info(s).name == name) return s;
  }
  ADD_FAILURE() << "no node " << name;
  return 0;
}

// Small constants a kernel reads are copied out of the map (so its pages can be released);
// weights a kernel packed at create are never read again, so they are not copied at all.
TEST(Executor, CopiesOnlyTheSmallConstantsKernelsRead) {
  dkr_test::ArchiveBuilder b;
  dkr_test::add_prepacked_test_graph(b);
  const std::vector<uint8_t> bytes = b.build();
  auto view = archive::ArchiveView::verify(bytes.data(), bytes.size());
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  const archive::ArchiveView& v = view.value();
  auto nodes = prepare_graph(v, 0);
  ASSERT_TRUE(nodes.ok()) << nodes.status().to_string();
  auto ex = Executor::create(v, 0, std::move(nodes).value(), uint64_t{1} << 30);
  ASSERT_TRUE(ex.ok()) << ex.status().to_string();
  // Tensors (prepacked_test_model.h): 2 c2.w (GEMM 1x1, packed), 3 fc.w (GEMV, packed), 4 c2.b.
  const size_t c2 = step_of(*ex.value(), "c2"), fc = step_of(*ex.value(), "fc");
  EXPECT_EQ(ex.value()->constant_input(c2, 1), v.tensor_data(2)) << "c2.w was copied";
  EXPECT_EQ(ex.value()->constant_input(fc, 1), v.tensor_data(3)) << "fc.w was copied";
  const void* bias = ex.value()->constant_input(c2, 2);
  ASSERT_NE(bias, nullptr);
  EXPECT_NE(bias, v.tensor_data(4)) << "c2.b, read at run time, was not copied";
  EXPECT_EQ(std::memcmp(bias, v.tensor_data(4), 32 * sizeof(float)), 0);
}

// Constants too large to copy that a kernel reads at run time are listed for the loader,
// which keeps their pages mapped: here a 3x3 conv's 147 KB weight, read by the per-call
// Winograd kernel (LoadOptions::compact_weights) but not by the packed one.
TEST(Executor, ListsTheLargeConstantsKernelsReadInPlace) {
  using A = dkr_test::ArchiveBuilder;
  dkr_test::ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {1, 64, 16, 16});
  const uint32_t w = b.constant("w", {64, 64, 3, 3}, dkr_test::ramp(64 * 64 * 9, 0.001f));
  const uint32_t y = b.node(OpKind::kConv2d, "conv", {x, w}, {1, 64, 16, 16},
                            {A::ints_attr("stride", {1, 1}), A::ints_attr("pads", {1, 1, 1, 1}),
                             A::ints_attr("dilation", {1, 1}), A::int_attr("groups", 1)});
  b.output(y);
  const std::vector<uint8_t> bytes = b.build();
  auto view = archive::ArchiveView::verify(bytes.data(), bytes.size());
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  for (WinogradWeights mode : {WinogradWeights::kPacked, WinogradWeights::kPerCall}) {
    ScopedWinogradWeights scope(mode);
    auto nodes = prepare_graph(view.value(), 0);
    ASSERT_TRUE(nodes.ok()) << nodes.status().to_string();
    auto ex = Executor::create(view.value(), 0, std::move(nodes).value(), uint64_t{1} << 30);
    ASSERT_TRUE(ex.ok()) << ex.status().to_string();
    const auto& listed = ex.value()->constants_read_in_place();
    if (mode == WinogradWeights::kPacked) {
      EXPECT_TRUE(listed.empty());
    } else {
      ASSERT_EQ(listed.size(), 1u);
      EXPECT_EQ(listed[0].first, view.value().tensor_data(0));
      EXPECT_EQ(listed[0].second, size_t{64} * 64 * 9 * sizeof(float));
    }
  }
}

}  // namespace
