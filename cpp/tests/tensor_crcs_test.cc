// Format 1.5 TENSOR_CRCS: a Module loading an archive with per-tensor CRCs checks exactly
// the tensors it reads (constants, raw weights it packs, packed bytes it uses in place)
// instead of the whole WEIGHTS section, before load returns. A corrupt byte in a tensor it
// reads is a kArchive error naming the tensor; one in a raw weight that every kernel took
// prepacked in place is never read, and the outputs are exactly the uncorrupted ones.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "api/module_impl.h"
#include "api/prepack.h"
#include "api/tensor_checksums.h"
#include "archive/packed_weights.h"
#include "archive_builder.h"
#include "core/crc32c.h"
#include "cpu/cpu_features.h"
#include "kernels/f32-winograd/winograd.h"
#include "ops/conv2d_winograd.h"
#include "every_op_archive.h"
#include "kernel_test_util.h"
#include "module_test_util.h"
#include "prepacked_test_model.h"
#include "threadpool/thread_pool.h"

namespace {

using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::Isa;
using deployrt::Module;
using deployrt::PrepackedRecord;
using deployrt::Tensor;
using dkr_test::ArchiveBuilder;
using dkr_test::f32_values;
using dkr_test::ramp;
using A = ArchiveBuilder;
using OpKind = deployrt::OpKind;
namespace archive = deployrt::archive;

// The tensors of model() (prepacked_test_model.h), then one packed data tensor per record.
constexpr uint32_t kC1W = 0, kC1B = 1, kC2W = 2, kFcW = 3, kFirstPacked = 5;

struct Options {
  const std::vector<PrepackedRecord>* records = nullptr;
  bool tensor_crcs = true;
  std::function<void(std::vector<uint8_t>&)> edit_crcs;  // edits the TENSOR_CRCS payload
  uint16_t version_minor = archive::kVersionMinorTensorCrcs;
};

std::vector<uint8_t> model(const Options& o) {
  ArchiveBuilder b;
  dkr_test::add_prepacked_test_graph(b);
  if (o.records != nullptr) {
    b.version_minor = archive::kVersionMinorPackedWeights;
    b.extra_sections.push_back({archive::kSectionPackedWeights, dkr_test::packed_weights_payload(b, *o.records)});
  }
  if (o.tensor_crcs) {
    std::vector<uint8_t> s(8 + 4 * b.tensors.size(), 0);
    dkr_test::put_u32(s, 0, static_cast<uint32_t>(b.tensors.size()));
    for (size_t i = 0; i < b.tensors.size(); ++i) {
      dkr_test::put_u32(s, 8 + 4 * i, deployrt::crc32c(b.tensors[i].data.data(), b.tensors[i].nbytes));
    }
    if (o.edit_crcs) o.edit_crcs(s);
    b.version_minor = o.version_minor;
    b.extra_sections.push_back({archive::kSectionTensorCrcs, s});
  }
  return b.build();
}

std::string write_file(const std::vector<uint8_t>& bytes, const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name + "_" + std::to_string(::getpid()) + ".dkr";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::vector<PrepackedRecord> prepack(Isa isa) {
  Options plain;
  plain.tensor_crcs = false;
  const std::string path = write_file(model(plain), "crcs_prepack_src");
  auto records = deployrt::prepack_weights(path, isa);
  std::remove(path.c_str());
  EXPECT_TRUE(records.ok()) << records.status().to_string();
  return records.ok() ? std::move(records).value() : std::vector<PrepackedRecord>();
}

deployrt::LoadOptions at(Isa isa, int threads = 1) {
  deployrt::LoadOptions o;
  o.num_threads = threads;
  o.max_isa = isa;
  return o;
}

std::vector<float> run(const Module& m) {
  const std::vector<float> x = ramp(16 * 16 * 16, 0.001f);
  return f32_values(m.forward({Tensor::wrap(x.data(), DType::kF32, {1, 16, 16, 16})})[0]);
}

// Flips one byte in the middle of tensor `t`'s data (the section CRCs are left as they are).
std::vector<uint8_t> flip_in_tensor(std::vector<uint8_t> bytes, uint32_t t) {
  auto view = archive::ArchiveView::verify(bytes.data(), bytes.size());
  EXPECT_TRUE(view.ok()) << view.status().to_string();
  const size_t at = static_cast<size_t>(view.value().tensor_data(t) - bytes.data() + view.value().tensor(t).nbytes / 2);
  bytes[at] ^= 0x5A;
  return bytes;
}

deployrt::Status load_status(const std::vector<uint8_t>& bytes, deployrt::LoadOptions options) {
  auto m = Module::try_load_from_memory(bytes.data(), bytes.size(), options);
  return m.ok() ? deployrt::Status::Ok() : m.status();
}

void expect_names_tensor(const deployrt::Status& st, uint32_t t, const std::string& name) {
  ASSERT_FALSE(st.ok()) << "tensor " << t;
  EXPECT_EQ(st.code(), ErrorCode::kArchive) << st.to_string();
  const std::string want = "tensor " + std::to_string(t) + (name.empty() ? " (unnamed)" : " '" + name + "'") +
                           ": TENSOR_CRCS stores crc 0x";
  EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("(corrupt weights)"), std::string::npos) << st.message();
}

TEST(TensorCrcs, TheWholeArchiveLoadsAndMatchesTheArchiveWithoutTheSection) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  Options without, with;
  without.records = with.records = &records;
  without.tensor_crcs = false;
  const std::vector<float> want = run(dkr_test::load_module(model(without)));
  const Module m = dkr_test::load_module(model(with));
  EXPECT_EQ(run(m), want);
  size_t in_place = 0;
  for (const auto& e : Module::Impl::of(m)->weight_cache().entries()) in_place += e.in_place ? 1 : 0;
  EXPECT_EQ(in_place, records.size());
}

TEST(TensorCrcs, ACorruptTensorTheModuleReadsFailsTheLoadNamingIt) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  Options o;
  o.records = &records;
  const std::vector<uint8_t> good = model(o);
  // A bias (read raw) and every packed data tensor (used in place), at 1 and 2 threads.
  for (int threads : {1, 2}) {
    expect_names_tensor(load_status(flip_in_tensor(good, kC1B), at(Isa::kBest, threads)), kC1B, "c1.b");
    for (uint32_t k = 0; k < records.size(); ++k) {
      const uint32_t t = kFirstPacked + k;
      expect_names_tensor(load_status(flip_in_tensor(good, t), at(Isa::kBest, threads)), t,
                          "packed." + std::to_string(k));
    }
  }
  // Memory-mapped too.
  const std::string path = write_file(flip_in_tensor(good, kFirstPacked), "crcs_flipped");
  auto m = Module::try_load(path, at(Isa::kBest));
  std::remove(path.c_str());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("tensor " + std::to_string(kFirstPacked) + " 'packed.0'"), std::string::npos)
      << m.status().message();
}

TEST(TensorCrcs, ACorruptRawWeightSupersededInPlaceIsNeverRead) {
  // Every weight prepacked, c1's Winograd U included (prepacked in the packed mode).
  deployrt::ScopedWinogradWeights packed(deployrt::WinogradWeights::kPacked);
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  Options o;
  o.records = &records;
  const std::vector<uint8_t> good = model(o);
  const std::vector<float> want = run(dkr_test::load_module(good));
  for (uint32_t t : {kC1W, kC2W, kFcW}) {
    bool prepacked = false;
    for (const PrepackedRecord& r : records) prepacked |= r.source_tensor == t;
    ASSERT_TRUE(prepacked) << t;
    const std::vector<uint8_t> bad = flip_in_tensor(good, t);
    for (int threads : {1, 2}) EXPECT_EQ(run(dkr_test::load_module(bad, at(Isa::kBest, threads))), want) << t;
    const std::string path = write_file(bad, "crcs_raw_flipped");
    auto m = Module::try_load(path, at(Isa::kBest));
    std::remove(path.c_str());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(run(m.value()), want) << t;
    // Without the section the whole WEIGHTS section is checked, as before format 1.5.
    Options whole = o;
    whole.tensor_crcs = false;
    const deployrt::Status st = load_status(flip_in_tensor(model(whole), t), at(Isa::kBest));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("(WEIGHTS"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("(corrupt section)"), std::string::npos) << st.message();
    // And ArchiveView::verify's default still checks the whole section with it.
    auto view = archive::ArchiveView::verify(bad.data(), bad.size());
    ASSERT_FALSE(view.ok());
    EXPECT_NE(view.status().message().find("(corrupt section)"), std::string::npos) << view.status().message();
  }
}

// With Winograd weights transformed per call (ops/conv2d_winograd.h), c1 (16 tiles: one
// chunk) reads the raw c1.w at run time, so a prepacked archive holds nothing for it and
// c1.w is checked at load. An archive prepacked in the packed mode holds U for c1: it is
// not used (outputs exactly the same, its bytes never read) and c1.w is still checked.
TEST(TensorCrcs, APerCallWinogradWeightIsCheckedEvenWithAPrepackedU) {
  deployrt::ScopedWinogradWeights per_call(deployrt::WinogradWeights::kPerCall);  // export and loads alike
  std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  for (const PrepackedRecord& r : records) ASSERT_NE(r.source_tensor, kC1W) << "nothing to prepack for c1";
  Options o;
  o.records = &records;
  const std::vector<uint8_t> good = model(o);
  const std::vector<float> want = run(dkr_test::load_module(good));
  for (int threads : {1, 2}) {
    expect_names_tensor(load_status(flip_in_tensor(good, kC1W), at(Isa::kBest, threads)), kC1W, "c1.w");
  }
  // U of c1 as the packed mode prepacks it at this level: [36][m_panels][C][MR] panels.
  const deployrt::IsaLevel level = deployrt::isa_level();
  const deployrt::F32WinogradVariant& xform = deployrt::f32_winograd_select(level);
  deployrt::Conv2dShape s = deployrt::testing::conv2d_io(1, 16, 16, 16, 16);
  s.kernel_h = s.kernel_w = 3;
  s.pad_top = s.pad_left = 1;
  s.out_height = s.out_width = 16;
  const deployrt::WinogradPlan plan =
      deployrt::make_winograd_plan(s, deployrt::f32_gemm_select(level, 16, 16, xform.lanes), xform);
  ASSERT_TRUE(deployrt::winograd_per_call(plan));
  const std::vector<float> w1 = ramp(16 * 16 * 9, 0.01f);
  std::vector<float> u(deployrt::f32_winograd_packed_floats(plan));
  deployrt::f32_winograd_pack_weight_panels(plan, w1.data(), u.data(), 0, plan.m_panels);
  PrepackedRecord older;
  older.source_tensor = kC1W;
  older.layout = archive::kPackedLayoutWinograd;
  older.params[0] = plan.gemm.mr;
  older.isa = records[0].isa;
  older.bytes.resize(u.size() * sizeof(float));
  std::memcpy(older.bytes.data(), u.data(), older.bytes.size());
  records.insert(records.begin(), older);  // its data tensor: kFirstPacked
  {
    deployrt::ScopedWinogradWeights packed(deployrt::WinogradWeights::kPacked);
    ASSERT_EQ(prepack(Isa::kBest).size(), records.size()) << "the packed mode prepacks exactly that one more";
  }
  const std::vector<uint8_t> with_u = model(o);
  for (int threads : {1, 2}) {
    EXPECT_EQ(run(dkr_test::load_module(with_u, at(Isa::kBest, threads))), want);
    EXPECT_EQ(run(dkr_test::load_module(flip_in_tensor(with_u, kFirstPacked), at(Isa::kBest, threads))), want);
    expect_names_tensor(load_status(flip_in_tensor(with_u, kC1W), at(Isa::kBest, threads)), kC1W, "c1.w");
  }
}

TEST(TensorCrcs, RawWeightsPackedAtLoadAreChecked) {
  // Packed by the scalar kernels; a Module at a higher level packs the raw weights itself.
  const std::vector<PrepackedRecord> records = prepack(Isa::kScalar);
  ASSERT_FALSE(records.empty());
  Options o;
  o.records = &records;
  const std::vector<uint8_t> good = model(o);
  if (Module::Impl::of(dkr_test::load_module(good))->isa == deployrt::IsaLevel::kScalar) {
    GTEST_SKIP() << "the host runs only scalar kernels";
  }
  expect_names_tensor(load_status(flip_in_tensor(good, kC2W), at(Isa::kBest)), kC2W, "c2.w");
  expect_names_tensor(load_status(flip_in_tensor(good, kFcW), at(Isa::kBest)), kFcW, "fc.w");
  // The scalar packs are not read at that level: a flip there loads and runs unchanged.
  const std::vector<float> want = run(dkr_test::load_module(good));
  EXPECT_EQ(run(dkr_test::load_module(flip_in_tensor(good, kFirstPacked))), want);
  // At the scalar level the packs are read and the raw weights are not.
  expect_names_tensor(load_status(flip_in_tensor(good, kFirstPacked), at(Isa::kScalar)), kFirstPacked, "packed.0");
  const std::vector<float> scalar = run(dkr_test::load_module(good, at(Isa::kScalar)));
  EXPECT_EQ(run(dkr_test::load_module(flip_in_tensor(good, kC2W), at(Isa::kScalar))), scalar);
}

TEST(TensorCrcs, AMalformedSectionIsRejected) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  const uint32_t n = kFirstPacked + static_cast<uint32_t>(records.size());
  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> edit;
    uint16_t minor;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"count", [n](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 0, n + 1); }, 5,
       "TENSOR_CRCS: count " + std::to_string(n + 1) + " != tensor count " + std::to_string(n)},
      {"size", [](std::vector<uint8_t>& s) { s.resize(s.size() + 4, 0); }, 5, "implies"},
      {"short", [](std::vector<uint8_t>& s) { s.resize(4); }, 5, "shorter than its 8-byte header"},
      {"reserved", [](std::vector<uint8_t>& s) { s[4] = 1; }, 5, "reserved field at section offset 4 is not zero"},
      {"minor", nullptr, 4, "TENSOR_CRCS: the section needs format version 1.5 or later, the archive is 1.4"},
  };
  for (const Case& c : cases) {
    Options o;
    o.records = &records;
    o.edit_crcs = c.edit;
    o.version_minor = c.minor;
    const deployrt::Status st = load_status(model(o), at(Isa::kBest));
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.code(), ErrorCode::kArchive) << c.what;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.what << ": " << st.message();
  }
  // A stored CRC that is wrong (the section's own CRC fixed): the tensor is named.
  Options wrong;
  wrong.records = &records;
  wrong.edit_crcs = [](std::vector<uint8_t>& s) { s[8 + 4 * kC1B] ^= 1; };
  expect_names_tensor(load_status(model(wrong), at(Isa::kBest)), kC1B, "c1.b");
  // A corrupt section (its own CRC no longer matches).
  Options o;
  o.records = &records;
  std::vector<uint8_t> bytes = model(o);
  auto view = archive::ArchiveView::verify(bytes.data(), bytes.size());
  ASSERT_TRUE(view.ok());
  auto section = archive::find_optional_section(view.value(), archive::kSectionTensorCrcs, "TENSOR_CRCS");
  ASSERT_TRUE(section.ok() && section.value().data != nullptr);
  bytes[static_cast<size_t>(section.value().data - bytes.data()) + 8] ^= 1;
  const deployrt::Status st = load_status(bytes, at(Isa::kBest));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kArchive);
  EXPECT_NE(st.message().find("(TENSOR_CRCS"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("(corrupt section)"), std::string::npos) << st.message();
}

TEST(TensorCrcs, LargeTensorsAreSplitOverThePoolAndJoined) {
  // Tensors of 0, 3 MB + 12 bytes, 1 byte short of 2 MB and 5 MB: 2 threads cut them in
  // two shares of equal bytes inside a tensor; every flip is found wherever it falls.
  ArchiveBuilder b;
  const std::vector<size_t> floats = {0, (size_t{3} << 18) + 3, (size_t{1} << 19) - 1, size_t{5} << 18};
  for (size_t i = 0; i < floats.size(); ++i) {
    b.tensor("t" + std::to_string(i), {static_cast<int64_t>(floats[i])}, ramp(floats[i], 0.001f * (i + 1)));
  }
  const uint32_t x = b.input("x", DType::kF32, {1});
  b.output(b.node(OpKind::kRelu, "relu", {x}, {1}));
  std::vector<uint8_t> s(8 + 4 * b.tensors.size(), 0);
  dkr_test::put_u32(s, 0, static_cast<uint32_t>(b.tensors.size()));
  for (size_t i = 0; i < b.tensors.size(); ++i) {
    dkr_test::put_u32(s, 8 + 4 * i, deployrt::crc32c(b.tensors[i].data.data(), b.tensors[i].nbytes));
  }
  b.version_minor = archive::kVersionMinorTensorCrcs;
  b.extra_sections.push_back({archive::kSectionTensorCrcs, s});
  std::vector<uint8_t> bytes = b.build();
  auto view = archive::ArchiveView::verify(bytes.data(), bytes.size(), nullptr,
                                           archive::ArchiveView::WeightsCheck::kPerTensorWhenAvailable);
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  EXPECT_FALSE(view.value().weights_verified());
  const std::vector<uint32_t> all = {0, 1, 2, 3};
  for (int threads : {1, 2, 3}) {
    deployrt::ThreadPool pool(threads);
    EXPECT_TRUE(deployrt::verify_tensor_crcs(view.value(), all, pool).ok()) << threads;
    for (uint32_t t : {1u, 2u, 3u}) {
      const uint64_t nbytes = view.value().tensor(t).nbytes;
      for (uint64_t at : {uint64_t{0}, nbytes / 3, nbytes / 2, nbytes - 1}) {
        uint8_t* p = bytes.data() + (view.value().tensor_data(t) - bytes.data()) + at;
        *p ^= 0x80;
        const deployrt::Status st = deployrt::verify_tensor_crcs(view.value(), all, pool);
        *p ^= 0x80;
        expect_names_tensor(st, t, "t" + std::to_string(t));
      }
    }
    // Only what is asked for is checked: a flip in tensor 3 passes a check of 1 and 2.
    bytes[static_cast<size_t>(view.value().tensor_data(3) - bytes.data())] ^= 1;
    EXPECT_TRUE(deployrt::verify_tensor_crcs(view.value(), {2, 1, 1}, pool).ok());
    bytes[static_cast<size_t>(view.value().tensor_data(3) - bytes.data())] ^= 1;
    // The same CRCs computed ahead (SharedTensorCrcs, as the loader does): by a worker
    // (run_async) and the caller at once, the 5 MB tensor cut in two pieces and joined;
    // a flip is reported only when its tensor is wanted.
    std::vector<uint32_t> sorted = {3, 1, 0, 2, 1};
    deployrt::sort_unique_tensors(&sorted);
    ASSERT_EQ(sorted, all);
    for (uint32_t t : {1u, 3u}) {
      uint8_t* p = bytes.data() + (view.value().tensor_data(t) - bytes.data()) + view.value().tensor(t).nbytes / 2 + 1;
      *p ^= 0x80;
      deployrt::SharedTensorCrcs shared(view.value(), sorted);
      pool.run_async([&] { shared.work(); });
      shared.work();
      pool.wait_async();
      const std::vector<uint32_t> crcs = shared.computed();
      ASSERT_EQ(crcs.size(), all.size());
      for (uint32_t u : all) {
        EXPECT_EQ(crcs[u], deployrt::crc32c(view.value().tensor_data(u), view.value().tensor(u).nbytes)) << u;
      }
      expect_names_tensor(deployrt::check_tensor_crcs(view.value(), sorted, crcs), t, "t" + std::to_string(t));
      std::vector<bool> wanted(all.size(), true);
      wanted[t] = false;
      EXPECT_TRUE(deployrt::check_tensor_crcs(view.value(), sorted, crcs, wanted).ok()) << t;
      // Skipped before any work: the others' CRCs are still computed and joined.
      deployrt::SharedTensorCrcs skipping(view.value(), sorted);
      skipping.skip_unwanted(wanted);
      pool.run_async([&] { skipping.work(); });
      skipping.work();
      pool.wait_async();
      const std::vector<uint32_t> some = skipping.computed();
      for (uint32_t u : all) {
        if (u != t) EXPECT_EQ(some[u], crcs[u]) << u;
      }
      EXPECT_TRUE(deployrt::check_tensor_crcs(view.value(), sorted, some, wanted).ok()) << t;
      *p ^= 0x80;
    }
  }
}

}  // namespace
