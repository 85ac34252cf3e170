// The application-facing API of issue 7: forward_into (caller-owned outputs), lookup by
// name, the ISA ceiling, forward_debug (every intermediate), and self-checking archives
// (TEST_VECTORS section: parsing, verification, selftest pass and failure reports).
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "api/module_impl.h"
#include "archive/test_vectors.h"
#include "archive_builder.h"
#include "module_test_util.h"
#include "cpu/cpu_features.h"

namespace {

using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::Module;
using deployrt::Tensor;
using dkr_test::ArchiveBuilder;

Module load(const std::vector<uint8_t>& bytes, deployrt::LoadOptions options = {1}) {
  auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), options);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : Module();
}

using dkr_test::f32_values;

// small_model: z = relu(x) + c + 0.5 w, r = relu(x); inputs x, w [2,3]; outputs z, r.
const std::vector<float> kX = {-1, 2, -3, 4, -5, 6};
const std::vector<float> kW = {2, 2, 2, 2, 2, 2};
const std::vector<float> kZ = {2, 5, 4, 9, 6, 13};
const std::vector<float> kR = {0, 2, 0, 4, 0, 6};

std::vector<uint8_t> test_vectors_section(uint32_t count, uint32_t in, uint32_t out, double rtol, double atol,
                                          const std::vector<uint32_t>& indices) {
  std::vector<uint8_t> s(64, 0);
  dkr_test::put_u32(s, 0, count);
  dkr_test::put_u32(s, 4, in);
  dkr_test::put_u32(s, 8, out);
  std::memcpy(&s[16], &rtol, 8);
  std::memcpy(&s[24], &atol, 8);
  for (uint32_t i : indices) {
    s.resize(s.size() + 4);
    dkr_test::put_u32(s, s.size() - 4, i);
  }
  return s;
}

// small_model with one test vector; `z_expected` is what the archive claims z is.
std::vector<uint8_t> with_vectors(const std::vector<float>& z_expected, double rtol = 1e-4, double atol = 1e-5) {
  ArchiveBuilder b = dkr_test::small_model();
  std::vector<uint32_t> idx = {b.tensor("tv.x", {2, 3}, kX), b.tensor("tv.w", {2, 3}, kW),
                               b.tensor("tv.z", {2, 3}, z_expected), b.tensor("tv.r", {2, 3}, kR)};
  b.version_minor = 1;
  b.extra_sections.push_back({deployrt::archive::kSectionTestVectors, test_vectors_section(1, 2, 2, rtol, atol, idx)});
  return b.build();
}

TEST(Api, ForwardIntoWritesCallerBuffers) {
  const auto bytes = dkr_test::small_model().build();
  Module m = load(bytes);
  std::vector<float> z(6, -99), r(6, -99);
  std::vector<Tensor> outs = {Tensor::wrap(z.data(), DType::kF32, {2, 3}), Tensor::wrap(r.data(), DType::kF32, {2, 3})};
  auto st = m.try_forward_into({Tensor::wrap(kX.data(), DType::kF32, {2, 3}), Tensor::wrap(kW.data(), DType::kF32, {2, 3})},
                               outs);
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(z, kZ);
  EXPECT_EQ(r, kR);
  EXPECT_EQ(outs[0].data(), static_cast<void*>(z.data()));  // still the caller's buffer
}

TEST(Api, ForwardIntoChecksOutputs) {
  const auto bytes = dkr_test::small_model().build();
  Module m = load(bytes);
  std::vector<Tensor> ins = {Tensor::wrap(kX.data(), DType::kF32, {2, 3}), Tensor::wrap(kW.data(), DType::kF32, {2, 3})};
  std::vector<float> buf(6);
  std::vector<Tensor> one = {Tensor::wrap(buf.data(), DType::kF32, {2, 3})};
  EXPECT_EQ(m.try_forward_into(ins, one).message(), "expected 2 output tensors, got 1");
  std::vector<Tensor> bad_shape = {Tensor::wrap(buf.data(), DType::kF32, {2, 3}), Tensor::wrap(buf.data(), DType::kF32, {3, 2})};
  auto st = m.try_forward_into(ins, bad_shape);
  EXPECT_EQ(st.code(), ErrorCode::kInput);
  EXPECT_NE(st.message().find("output 1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("expected f32[2,3], got f32[3,2]"), std::string::npos) << st.message();
  std::vector<int32_t> ibuf(6);
  std::vector<Tensor> bad_dtype = {Tensor::wrap(ibuf.data(), DType::kI32, {2, 3}), Tensor::wrap(buf.data(), DType::kF32, {2, 3})};
  EXPECT_NE(m.try_forward_into(ins, bad_dtype).message().find("output 0"), std::string::npos);
  std::vector<Tensor> null_data = {Tensor::wrap(static_cast<void*>(nullptr), DType::kF32, {2, 3}),
                                   Tensor::wrap(buf.data(), DType::kF32, {2, 3})};
  EXPECT_NE(m.try_forward_into(ins, null_data).message().find("null"), std::string::npos);
  EXPECT_THROW(m.forward_into(ins, one), deployrt::Error);
}

TEST(Api, ForwardIntoRejectsOverlappingBuffers) {
  // Nodes write graph outputs straight into the caller's buffers while later nodes still
  // read the inputs: an output sharing bytes with an input or another output is refused.
  const auto bytes = dkr_test::small_model().build();
  Module m = load(bytes);
  std::vector<float> x = kX, w = kW, z(6), r(6);
  std::vector<Tensor> ins = {Tensor::wrap(x.data(), DType::kF32, {2, 3}), Tensor::wrap(w.data(), DType::kF32, {2, 3})};
  std::vector<Tensor> onto_input = {Tensor::wrap(x.data(), DType::kF32, {2, 3}), Tensor::wrap(r.data(), DType::kF32, {2, 3})};
  auto st = m.try_forward_into(ins, onto_input);
  EXPECT_EQ(st.code(), ErrorCode::kInput);
  EXPECT_NE(st.message().find("output 0 overlaps input 0"), std::string::npos) << st.message();
  EXPECT_EQ(x, kX);  // nothing ran
  std::vector<Tensor> shared = {Tensor::wrap(z.data(), DType::kF32, {2, 3}), Tensor::wrap(z.data() + 2, DType::kF32, {2, 3})};
  st = m.try_forward_into(ins, shared);
  EXPECT_NE(st.message().find("output 0 overlaps output 1"), std::string::npos) << st.message();
}

TEST(Api, GraphOutputsAreWrittenInPlaceNotInTheArena) {
  // y = relu(relu(x)): the first relu's output lives in the arena; the second writes the
  // graph output straight into the caller's buffer, so the arena holds one buffer only.
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {4, 16});
  const uint32_t h = b.node(deployrt::OpKind::kRelu, "h", {x}, {4, 16});
  b.output(b.node(deployrt::OpKind::kRelu, "y", {h}, {4, 16}));
  const auto bytes = b.build();
  Module m = load(bytes);
  EXPECT_EQ(m.arena_bytes(), 4u * 16 * 4);
  std::vector<float> in(64), out(64, 7.0f);
  for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(i % 5) - 2.0f;
  std::vector<Tensor> outs = {Tensor::wrap(out.data(), DType::kF32, {4, 16})};
  ASSERT_TRUE(m.try_forward_into({Tensor::wrap(in.data(), DType::kF32, {4, 16})}, outs).ok());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], std::max(in[i], 0.0f)) << i;
  // forward() gives the same through fresh tensors, twice in a row (the arena is reused).
  for (int round = 0; round < 2; ++round) {
    std::vector<Tensor> y = m.forward({Tensor::wrap(in.data(), DType::kF32, {4, 16})});
    EXPECT_EQ(f32_values(y[0]), out);
  }
}

TEST(Api, FindByName) {
  const auto bytes = dkr_test::small_model().build();
  Module m = load(bytes);
  EXPECT_EQ(m.find_input("x"), 0);
  EXPECT_EQ(m.find_input("w"), 1);
  EXPECT_EQ(m.find_input("nope"), -1);
  EXPECT_EQ(m.find_output(m.outputs()[1].name), 1);
  EXPECT_EQ(m.find_output("x"), -1);
  EXPECT_EQ(Module().find_input("x"), -1);
}

TEST(Api, IsaCeilingCapsTheModuleOnly) {
  const auto bytes = dkr_test::small_model().build();
  deployrt::LoadOptions scalar{1};
  scalar.max_isa = deployrt::Isa::kScalar;
  Module capped = load(bytes, scalar);
  EXPECT_STREQ(capped.isa(), "scalar");
  Module best = load(bytes);
  EXPECT_STREQ(best.isa(), deployrt::isa_name(deployrt::isa_level()));  // the cap did not leak to this thread
  deployrt::LoadOptions avx2{1};
  avx2.max_isa = deployrt::Isa::kAvx2;
  Module m2 = load(bytes, avx2);
  EXPECT_STRNE(m2.isa(), "avx512");
  deployrt::LoadOptions bogus{1};
  bogus.max_isa = static_cast<deployrt::Isa>(7);
  auto bad = Module::Impl::load_from_memory(bytes.data(), bytes.size(), bogus);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInput);
  EXPECT_NE(bad.status().message().find("max_isa"), std::string::npos);
}

TEST(Api, ForwardDebugReturnsEveryNodeOutput) {
  const auto bytes = dkr_test::small_model().build();
  Module m = load(bytes);
  auto dbg = m.try_forward_debug({Tensor::wrap(kX.data(), DType::kF32, {2, 3}), Tensor::wrap(kW.data(), DType::kF32, {2, 3})});
  ASSERT_TRUE(dbg.ok()) << dbg.status().to_string();
  ASSERT_EQ(dbg.value().size(), 3u);
  EXPECT_EQ(dbg.value()[0].node, "relu");
  EXPECT_EQ(dbg.value()[0].op, "relu");
  EXPECT_EQ(f32_values(dbg.value()[0].tensor), kR);
  EXPECT_EQ(dbg.value()[1].node, "add1");
  EXPECT_EQ(f32_values(dbg.value()[1].tensor), (std::vector<float>{1, 4, 3, 8, 5, 12}));
  EXPECT_EQ(f32_values(dbg.value()[2].tensor), kZ);
  EXPECT_FALSE(dbg.value()[2].name.empty());
  // Copies: the next run reuses the arena without changing what was returned.
  auto again = m.try_forward_debug({Tensor::wrap(kW.data(), DType::kF32, {2, 3}), Tensor::wrap(kW.data(), DType::kF32, {2, 3})});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(f32_values(dbg.value()[0].tensor), kR);
  auto wrong = m.try_forward_debug({});
  EXPECT_EQ(wrong.status().code(), ErrorCode::kInput);
}

TEST(Selftest, PassesWhenStoredOutputsMatch) {
  Module m = load(with_vectors(kZ));
  EXPECT_EQ(m.num_test_vectors(), 1u);
  auto report = m.try_selftest();
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report.value().checks.size(), 2u);
  EXPECT_TRUE(report.value().passed());
  EXPECT_EQ(report.value().checks[0].max_abs_error, 0.0);
  EXPECT_NEAR(report.value().checks[0].tolerance, 1e-4 * 13 + 1e-5, 1e-12);
}

TEST(Selftest, ReportsWhichOutputAndHowFar) {
  std::vector<float> off = kZ;
  off[3] += 0.5f;  // 9 -> 9.5: abs error 0.5, rel 0.5 / 13
  Module m = load(with_vectors(off));
  auto report = m.try_selftest();
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_FALSE(report.value().passed());
  const auto& z = report.value().checks[0];
  EXPECT_FALSE(z.passed);
  EXPECT_EQ(z.output, 0u);
  EXPECT_DOUBLE_EQ(z.max_abs_error, 0.5);
  EXPECT_NEAR(z.max_rel_error, 0.5 / 13, 1e-9);
  EXPECT_TRUE(report.value().checks[1].passed);
  // A NaN where the expected value is finite is an infinite error, never a pass.
  std::vector<float> nan_expected = kZ;
  Module loose = load(with_vectors(kZ, 1e9, 1e9));
  EXPECT_TRUE(loose.try_selftest().value().passed());
  nan_expected[0] = std::nanf("");
  Module nan_m = load(with_vectors(nan_expected, 1e9, 1e9));
  auto nan_report = nan_m.try_selftest();
  ASSERT_TRUE(nan_report.ok());
  EXPECT_FALSE(nan_report.value().checks[0].passed);
}

TEST(Selftest, NoVectorsIsAnInputError) {
  Module m = load(dkr_test::small_model().build());
  EXPECT_EQ(m.num_test_vectors(), 0u);
  EXPECT_EQ(m.try_selftest().status().code(), ErrorCode::kInput);
}

// Each malformed TEST_VECTORS section is rejected at load with a message naming the problem.
TEST(Selftest, MalformedSectionsAreArchiveErrors) {
  struct Case {
    const char* expect;
    std::function<void(ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>&)> edit;
  };
  const std::vector<Case> cases = {
      {"count is 0", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { dkr_test::put_u32(s, 0, 0); }},
      {"input_count is 1", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { dkr_test::put_u32(s, 4, 1); }},
      {"output_count is 3", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { dkr_test::put_u32(s, 8, 3); }},
      {"reserved field at section offset 12", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { s[12] = 1; }},
      {"reserved byte at section offset 40", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { s[40] = 1; }},
      {"rtol is -1", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { double v = -1; std::memcpy(&s[16], &v, 8); }},
      {"atol is nan", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { double v = std::nan(""); std::memcpy(&s[24], &v, 8); }},
      {"implies 80 bytes, the section has 84", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { s.resize(s.size() + 4); }},
      {"tensor index 99 >= tensor count", [](ArchiveBuilder&, std::vector<uint32_t>&, std::vector<uint8_t>& s) { dkr_test::put_u32(s, 64 + 8, 99); }},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    ArchiveBuilder b = dkr_test::small_model();
    std::vector<uint32_t> idx = {b.tensor("tv.x", {2, 3}, kX), b.tensor("tv.w", {2, 3}, kW), b.tensor("tv.z", {2, 3}, kZ),
                                 b.tensor("tv.r", {2, 3}, kR)};
    std::vector<uint8_t> s = test_vectors_section(1, 2, 2, 1e-4, 1e-5, idx);
    cases[c].edit(b, idx, s);
    b.version_minor = 1;
    b.extra_sections.push_back({deployrt::archive::kSectionTestVectors, s});
    const auto bytes = b.build();
    auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
    ASSERT_FALSE(m.ok()) << cases[c].expect;
    EXPECT_EQ(m.status().code(), ErrorCode::kArchive);
    EXPECT_NE(m.status().message().find(cases[c].expect), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("TEST_VECTORS"), std::string::npos) << m.status().message();
  }
  // A referenced tensor whose shape is not the graph input's.
  ArchiveBuilder b = dkr_test::small_model();
  std::vector<uint32_t> idx = {b.tensor("tv.x", {2, 3}, kX), b.tensor("tv.w", {3, 2}, kW), b.tensor("tv.z", {2, 3}, kZ),
                               b.tensor("tv.r", {2, 3}, kR)};
  b.version_minor = 1;
  b.extra_sections.push_back({deployrt::archive::kSectionTestVectors, test_vectors_section(1, 2, 2, 1e-4, 1e-5, idx)});
  auto bytes = b.build();
  auto m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("vector 0 input 1: tensor"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("expected f32[2,3]"), std::string::npos) << m.status().message();
  // Two TEST_VECTORS sections.
  ArchiveBuilder twice = dkr_test::small_model();
  idx = {twice.tensor("tv.x", {2, 3}, kX), twice.tensor("tv.w", {2, 3}, kW), twice.tensor("tv.z", {2, 3}, kZ),
         twice.tensor("tv.r", {2, 3}, kR)};
  twice.version_minor = 1;
  twice.extra_sections.push_back({deployrt::archive::kSectionTestVectors, test_vectors_section(1, 2, 2, 1e-4, 1e-5, idx)});
  twice.extra_sections.push_back({deployrt::archive::kSectionTestVectors, test_vectors_section(1, 2, 2, 1e-4, 1e-5, idx)});
  bytes = twice.build();
  m = Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("second TEST_VECTORS"), std::string::npos) << m.status().message();
}

}  // namespace
