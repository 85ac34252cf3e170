// Format 1.4 PACKED_WEIGHTS: weights packed at export by the runtime itself
// (deployrt::prepack_weights) and used in place at load, at the ISA level that packed
// them; any other level packs as before. The section is verified completely.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "api/module_impl.h"
#include "api/prepack.h"
#include "archive/packed_weights.h"
#include "archive_builder.h"
#include "every_op_archive.h"
#include "module_test_util.h"
#include "prepacked_test_model.h"

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

// prepacked_test_model.h's model; `records` become PACKED_WEIGHTS entries (data tensors
// appended to the tensor table).
std::vector<uint8_t> model(const std::vector<PrepackedRecord>* records = nullptr,
                           const std::function<void(std::vector<uint8_t>&)>& edit_section = {}) {
  ArchiveBuilder b;
  dkr_test::add_prepacked_test_graph(b);
  if (records != nullptr) {
    std::vector<uint8_t> s = dkr_test::packed_weights_payload(b, *records);
    b.tensor("spare", {2, 2}, {1, 2, 3, 4});  // unreferenced and 2-d: not packed data
    if (edit_section) edit_section(s);
    b.version_minor = deployrt::archive::kVersionMinorPackedWeights;
    b.extra_sections.push_back({deployrt::archive::kSectionPackedWeights, s});
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
  const std::string path = write_file(model(), "prepack_src");
  auto records = deployrt::prepack_weights(path, isa);
  std::remove(path.c_str());
  EXPECT_TRUE(records.ok()) << records.status().to_string();
  return records.ok() ? std::move(records).value() : std::vector<PrepackedRecord>();
}

struct Outcome {
  std::vector<float> y;
  uint64_t packings = 0;
  size_t in_place = 0;
};

Outcome run(const Module& m) {
  const std::vector<float> x = ramp(16 * 16 * 16, 0.001f);
  Outcome r;
  r.y = f32_values(m.forward({Tensor::wrap(x.data(), DType::kF32, {1, 16, 16, 16})})[0]);
  const deployrt::WeightCache& cache = Module::Impl::of(m)->weight_cache();
  r.packings = cache.packings();
  for (const auto& e : cache.entries()) r.in_place += e.in_place ? 1 : 0;
  return r;
}

deployrt::LoadOptions at(Isa isa) {
  deployrt::LoadOptions o;
  o.num_threads = 1;
  o.max_isa = isa;
  return o;
}

TEST(PackedWeights, PrepackRecordsEveryLayoutTheRuntimePacks) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  std::set<uint32_t> layouts;
  for (const PrepackedRecord& r : records) layouts.insert(r.layout);
  // Winograd (3x3) at every level that has it; GEMM and GEMV always.
  EXPECT_TRUE(layouts.count(deployrt::archive::kPackedLayoutConvGemm));
  EXPECT_TRUE(layouts.count(deployrt::archive::kPackedLayoutGemv));
  const Module base = dkr_test::load_module(model());
  EXPECT_EQ(records.size(), Module::Impl::of(base)->weight_cache().entries().size());
  for (const PrepackedRecord& r : records) EXPECT_EQ(r.isa, deployrt::archive::kPackedIsaScalar + static_cast<uint32_t>(Module::Impl::of(base)->isa));
}

TEST(PackedWeights, PrepackedWeightsAreUsedInPlaceWithIdenticalOutputs) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  const Outcome base = run(dkr_test::load_module(model()));
  EXPECT_EQ(base.packings, records.size());
  const std::vector<uint8_t> bytes = model(&records);
  const Outcome copy = run(dkr_test::load_module(bytes));  // from memory
  EXPECT_EQ(copy.y, base.y);
  EXPECT_EQ(copy.packings, 0u);
  EXPECT_EQ(copy.in_place, records.size());
  const std::string path = write_file(bytes, "prepacked");  // memory-mapped: pages released around them
  {
    deployrt::LoadOptions o;
    o.num_threads = 1;
    auto m = Module::try_load(path, o);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    const Outcome mapped = run(m.value());
    EXPECT_EQ(mapped.y, base.y);
    EXPECT_EQ(mapped.packings, 0u);
    EXPECT_EQ(mapped.in_place, records.size());
  }
  std::remove(path.c_str());
}

// LoadOptions::compact_weights: the 3x3 conv (16 tiles, one chunk) transforms its weights on
// each call, so no Winograd copy is kept, packed at load or used in place, and the
// outputs are bit-identical to the packed path's.
TEST(PackedWeights, CompactWeightsKeepNoWinogradCopyAndGiveIdenticalOutputs) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  const Outcome base = run(dkr_test::load_module(model()));
  for (int threads : {1, 2}) {
    deployrt::LoadOptions o;
    o.num_threads = threads;
    o.compact_weights = true;
    for (const std::vector<uint8_t>& bytes : {model(), model(&records)}) {
      const Module m = dkr_test::load_module(bytes, o);
      EXPECT_EQ(run(m).y, base.y) << threads;
      size_t winograd = 0, others = 0;
      for (const auto& e : Module::Impl::of(m)->weight_cache().entries()) {
        (e.key.layout == deployrt::kWinogradPacking ? winograd : others) += 1;
      }
      EXPECT_EQ(winograd, 0u) << threads;
      EXPECT_EQ(others, records.size() - 1) << threads;  // the 1x1 conv and the linear
      // Memory-mapped: the raw 3x3 weight, read at run time, stays mapped while the rest is released.
      const std::string path = write_file(bytes, "compact");
      {
        auto mapped = Module::try_load(path, o);
        ASSERT_TRUE(mapped.ok()) << mapped.status().to_string();
        EXPECT_EQ(run(mapped.value()).y, base.y) << threads;
      }
      std::remove(path.c_str());
    }
  }
}

TEST(PackedWeights, KernelsReadThePrepackedBytes) {
  // Doubling every prepacked weight doubles the output (the net is linear but for relu,
  // which commutes with a positive scale): the kernels read the archive's bytes, not a pack.
  std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  const Outcome base = run(dkr_test::load_module(model()));
  for (PrepackedRecord& r : records) {
    if (r.layout != deployrt::archive::kPackedLayoutGemv) continue;
    std::vector<float> f(r.bytes.size() / 4);
    std::memcpy(f.data(), r.bytes.data(), r.bytes.size());
    for (float& v : f) v *= 2;
    std::memcpy(r.bytes.data(), f.data(), r.bytes.size());
  }
  const Outcome doubled = run(dkr_test::load_module(model(&records)));
  ASSERT_EQ(doubled.y.size(), base.y.size());
  for (size_t i = 0; i < base.y.size(); ++i) EXPECT_FLOAT_EQ(doubled.y[i], 2 * base.y[i]) << i;
}

TEST(PackedWeights, OtherIsaLevelsPackAtLoad) {
  // Packed by the scalar kernels: used in place at scalar, repacked at any other level.
  const std::vector<PrepackedRecord> records = prepack(Isa::kScalar);
  ASSERT_FALSE(records.empty());
  for (const PrepackedRecord& r : records) EXPECT_EQ(r.isa, deployrt::archive::kPackedIsaScalar);
  const std::vector<uint8_t> bytes = model(&records);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    const Module plain = dkr_test::load_module(model(), at(isa));
    const Module prepacked = dkr_test::load_module(bytes, at(isa));
    const Outcome want = run(plain), got = run(prepacked);
    EXPECT_EQ(got.y, want.y) << static_cast<int>(isa);
    if (Module::Impl::of(prepacked)->isa == deployrt::IsaLevel::kScalar) {
      EXPECT_EQ(got.packings, 0u);
      EXPECT_EQ(got.in_place, records.size());
    } else {
      EXPECT_EQ(got.packings, want.packings);
      EXPECT_EQ(got.in_place, 0u);
    }
  }
}

TEST(PackedWeights, ASizeOtherThanThePackingsIsPackedAfresh) {
  std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_FALSE(records.empty());
  records[0].bytes.resize(records[0].bytes.size() - 64);
  const Outcome base = run(dkr_test::load_module(model()));
  const Outcome got = run(dkr_test::load_module(model(&records)));
  EXPECT_EQ(got.y, base.y);
  EXPECT_EQ(got.packings, 1u);
  EXPECT_EQ(got.in_place, records.size() - 1);
}

TEST(PackedWeights, MalformedSectionsAreRejected) {
  const std::vector<PrepackedRecord> records = prepack(Isa::kBest);
  ASSERT_GE(records.size(), 2u);
  // The model's tensors: 0 c1.w, 1 c1.b, 2 c2.w, 3 fc.w, 4 c2.b, the packed data, then "spare".
  struct Case {
    const char* what;
    std::function<void(std::vector<uint8_t>&)> edit;
    const char* message;
  };
  const uint32_t n = static_cast<uint32_t>(records.size());
  const std::vector<Case> cases = {
      {"count 0", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 0, 0); s.resize(16); }, "count is 0, expected >= 1"},
      {"count too large", [n](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 0, n + 1); }, "bytes, the section has"},
      {"short", [](std::vector<uint8_t>& s) { s.resize(8); }, "shorter than its 16-byte header"},
      {"header reserved", [](std::vector<uint8_t>& s) { s[5] = 1; }, "reserved byte at section offset 5"},
      {"entry reserved", [](std::vector<uint8_t>& s) { s[16 + 36] = 1; }, "entry 0: reserved field at entry offset 36 is 1"},
      {"source range", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16, 999); }, "entry 0: source_tensor 999 >= tensor count"},
      {"source not constant", [n](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16, 5 + n - 1); },
       "is not the tensor of any constant value"},
      {"layout", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 4, 9); }, "entry 0: layout 9 is not a layout code (expected 1..3)"},
      {"isa", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 32, 0); }, "entry 0: isa 0 is not an ISA code"},
      {"data range", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 40, 1000); }, "entry 0: data_tensor 1000 >= tensor count"},
      {"data rank", [n](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 40, 5 + n); },
       "is f32 of rank 2, expected f32 of rank 1"},
      {"data referenced", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 40, 1); },
       "entry 0: data_tensor 1 is referenced by a constant value"},
      {"data shared", [](std::vector<uint8_t>& s) { dkr_test::put_u32(s, 16 + 48 + 40, 5); },
       "entry 1: data_tensor 5 is already the data of entry 0"},
      {"duplicate key", [](std::vector<uint8_t>& s) { std::memcpy(&s[16 + 48], &s[16], 40); },
       "entry 1: duplicate key (source_tensor"},
  };
  for (const Case& c : cases) {
    const std::vector<uint8_t> bytes = model(&records, c.edit);
    auto m = Module::try_load_from_memory(bytes.data(), bytes.size(), at(Isa::kBest));
    ASSERT_FALSE(m.ok()) << c.what;
    EXPECT_EQ(m.status().code(), ErrorCode::kArchive) << c.what;
    EXPECT_NE(m.status().message().find("PACKED_WEIGHTS: "), std::string::npos) << c.what << ": " << m.status().message();
    EXPECT_NE(m.status().message().find(c.message), std::string::npos) << c.what << ": " << m.status().message();
  }
  // The section in an archive older than 1.4.
  {
    std::vector<uint8_t> bytes = model(&records);
    dkr_test::put_u16(bytes, 10, 3);
    dkr_test::fix_crcs(bytes);
    auto m = Module::try_load_from_memory(bytes.data(), bytes.size(), at(Isa::kBest));
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("needs format version 1.4 or later, the archive is 1.3"), std::string::npos)
        << m.status().message();
  }
}

}  // namespace
