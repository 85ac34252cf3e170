// The archive verifier against BAD_INPUTS.md: every malformed archive gets a typed
// error naming what is wrong; nothing crashes. Each test corrupts one thing of an
// otherwise valid archive (recomputing CRCs so the checksum does not mask the fault).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "api/module_impl.h"
#include "archive/reader.h"
#include "archive_builder.h"
#include "module_test_util.h"
#include "core/crc32c.h"
#include "api/parallel_checksum.h"
#include "threadpool/thread_pool.h"

namespace {

using deployrt::ErrorCode;
using deployrt::Status;
using deployrt::archive::ArchiveView;
using dkr_test::ArchiveBuilder;
using dkr_test::fix_crcs;
using dkr_test::get_u32;
using dkr_test::put_u32;
using dkr_test::put_u64;
using dkr_test::section_entry_at;
using dkr_test::section_offset;

Status verify(const std::vector<uint8_t>& bytes) {
  return ArchiveView::verify(bytes.empty() ? nullptr : bytes.data(), bytes.size()).status();
}

Status load(const std::vector<uint8_t>& bytes) {
  return deployrt::Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1}).status();
}

std::vector<uint8_t> small_bytes() { return dkr_test::small_model().build(); }

TEST(Crc32c, KnownAnswer) {
  EXPECT_EQ(deployrt::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(deployrt::crc32c("", 0), 0u);
  // Incremental == one shot, across the 8-byte fast path boundary.
  const char* text = "the quick brown fox jumps over the lazy dog";
  EXPECT_EQ(deployrt::crc32c(text + 13, 30, deployrt::crc32c(text, 13)), deployrt::crc32c(text, 43));
}

TEST(Crc32c, HardwarePathMatchesPortableTables) {
  // crc32c() may take the SSE4.2 instruction path; the tables are the reference. Every
  // length 0..300 and odd start offsets cover the 8-byte loop and its tails.
  std::vector<uint8_t> data(320);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  EXPECT_EQ(deployrt::crc32c_portable("123456789", 9), 0xE3069283u);
  for (size_t offset = 0; offset < 3; ++offset) {
    for (size_t n = 0; n <= 300; ++n) {
      ASSERT_EQ(deployrt::crc32c(data.data() + offset, n, 0x1234u),
                deployrt::crc32c_portable(data.data() + offset, n, 0x1234u))
          << "offset " << offset << " length " << n;
    }
  }
  // Inputs of 3 x 8 KiB and more take the three-stream path (blocks joined by a shift):
  // lengths around one and two whole blocks, with tails of every kind after them.
  std::vector<uint8_t> big(3 * 24576 + 64);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  for (size_t n : {size_t{24575}, size_t{24576}, size_t{24577}, size_t{24583}, size_t{49152}, size_t{49159},
                   size_t{3 * 24576}}) {
    for (size_t offset = 0; offset < 3; ++offset) {
      ASSERT_EQ(deployrt::crc32c(big.data() + offset, n, 0x1234u),
                deployrt::crc32c_portable(big.data() + offset, n, 0x1234u))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, CombineJoinsPieces) {
  std::vector<uint8_t> data(5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 2654435761u) >> 11);
  const uint32_t whole = deployrt::crc32c(data.data(), data.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{1000}, size_t{4095}, size_t{4999},
                       size_t{5000}}) {
    const uint32_t a = deployrt::crc32c(data.data(), split);
    const uint32_t b = deployrt::crc32c(data.data() + split, data.size() - split);
    EXPECT_EQ(deployrt::crc32c_combine(a, b, data.size() - split), whole) << "split at " << split;
  }
}

TEST(Crc32c, ParallelChecksumEqualsOneThread) {
  // Sections of several MB are split into one piece per thread (the last takes the
  // remainder); smaller ones run inline. Every pool size gives crc32c's result.
  std::vector<uint8_t> data((size_t{13} << 20) + 77);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 2654435761u) >> 17);
  for (int threads : {1, 2, 3}) {
    deployrt::ThreadPool pool(threads);
    const ArchiveView::Checksum checksum = deployrt::parallel_crc32c(pool);
    for (size_t n : {size_t{0}, size_t{100}, size_t{8} << 20, (size_t{8} << 20) + 1, data.size()}) {
      EXPECT_EQ(checksum(data.data(), n), deployrt::crc32c(data.data(), n)) << threads << " threads, " << n << " bytes";
    }
  }
}

TEST(Reader, ValidArchiveVerifiesAndAccessorsRead) {
  auto bytes = small_bytes();
  auto view = ArchiveView::verify(bytes.data(), bytes.size());
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  const ArchiveView& v = view.value();
  EXPECT_EQ(v.graph_count(), 1u);
  EXPECT_EQ(v.node_count(), 3u);
  EXPECT_EQ(v.tensor_count(), 1u);
  EXPECT_EQ(v.string(v.tensor(0).name), "c");
  float c[6];
  std::memcpy(c, v.tensor_data(0), sizeof c);
  EXPECT_EQ(c[5], 6.0f);
  EXPECT_NE(v.metadata().find("deploykit-test"), std::string::npos);
  EXPECT_TRUE(load(bytes).ok()) << load(bytes).to_string();
}

// ---- header and file size ---------------------------------------------------

TEST(Reader, EmptyFile) { EXPECT_ERROR(verify({}), ErrorCode::kArchive, "empty file"); }

TEST(Reader, EveryPrefixTruncationIsAnArchiveError) {
  auto bytes = small_bytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    Status st = verify(prefix);
    ASSERT_EQ(st.code(), ErrorCode::kArchive) << "prefix of " << n << " bytes: " << st.to_string();
  }
}

TEST(Reader, WrongMagic) {
  auto bytes = small_bytes();
  bytes[1] = 'X';
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "header.magic");
}

TEST(Reader, FutureMajorVersionIsUnsupported) {
  auto bytes = small_bytes();
  dkr_test::put_u16(bytes, 8, 2);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kUnsupported, "version 2.0");
}

TEST(Reader, NewerMinorVersionIsAccepted) {
  auto bytes = small_bytes();
  dkr_test::put_u16(bytes, 10, 3);
  fix_crcs(bytes);
  EXPECT_TRUE(verify(bytes).ok()) << verify(bytes).to_string();
}

TEST(Reader, WrongByteOrder) {
  auto bytes = small_bytes();
  put_u32(bytes, 12, 0x0D0C0B0Au);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "big-endian");
}

TEST(Reader, HeaderFieldsChecked) {
  struct Case {
    size_t at;
    uint32_t value;
    const char* message;
  } cases[] = {{16, 128, "header.header_size"}, {20, 0, "header.section_count"}, {20, 17, "header.section_count"},
               {24, 0, "header.section_table_offset"}, {40, 1, "header.flags"}, {48, 1, "header.reserved"}};
  for (const Case& c : cases) {
    auto bytes = small_bytes();
    put_u32(bytes, c.at, c.value);
    fix_crcs(bytes);
    EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, c.message);
  }
}

TEST(Reader, HeaderChecksumMismatch) {
  auto bytes = small_bytes();
  bytes[64 + 4] ^= 0x01;  // section 0 flags, covered only by the header CRC
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "header.header_crc");
}

TEST(Reader, SectionChecksumMismatch) {
  auto bytes = small_bytes();
  bytes[section_offset(bytes, 3)] ^= 0x40;  // a weight byte
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "crc stored");
}

TEST(Reader, TrailingGarbage) {
  auto bytes = small_bytes();
  bytes.push_back(0);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "header.file_size");
  put_u64(bytes, 32, bytes.size());  // even with a consistent file_size
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "trailing data");
}

// ---- section table ------------------------------------------------------------

TEST(Reader, SectionPastEndOfFile) {
  auto bytes = small_bytes();
  put_u64(bytes, section_entry_at(bytes, 5) + 16, 1u << 20);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "runs past the end of the file");
}

TEST(Reader, SectionOffsetPlusSizeWraps) {
  auto bytes = small_bytes();
  const size_t e = section_entry_at(bytes, 1);
  put_u64(bytes, e + 16, std::numeric_limits<uint64_t>::max() - 100);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "runs past the end of the file");
}

TEST(Reader, OverlappingSections) {
  auto bytes = small_bytes();
  put_u64(bytes, section_entry_at(bytes, 2) + 8, section_offset(bytes, 1));
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "overlaps");
}

TEST(Reader, MisalignedSection) {
  auto bytes = small_bytes();
  const size_t e = section_entry_at(bytes, 2);
  put_u64(bytes, e + 8, dkr_test::get_u64(bytes, e + 8) + 8);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "not a multiple of 64");
}

TEST(Reader, SectionInsideHeader) {
  auto bytes = small_bytes();
  put_u64(bytes, section_entry_at(bytes, 5) + 8, 0);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "inside the header");
}

TEST(Reader, DuplicateAndUnknownSectionKinds) {
  auto bytes = small_bytes();
  put_u32(bytes, section_entry_at(bytes, 5), 4);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "a second GRAPH section");
  bytes = small_bytes();
  put_u32(bytes, section_entry_at(bytes, 5), 9);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "kind 9");
}

TEST(Reader, NonZeroPadding) {
  auto bytes = small_bytes();
  bytes[section_offset(bytes, 1) - 1] = 0xAA;  // padding after the section table
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "padding");
}

// ---- strings --------------------------------------------------------------------

// Absolute offset of string `i`'s first byte.
size_t string_at(const std::vector<uint8_t>& b, uint32_t i) {
  const size_t s = section_offset(b, 1);
  return s + get_u32(b, s + 8 + 8 * i);
}

TEST(Reader, StringWithoutTerminator) {
  ArchiveBuilder builder = dkr_test::small_model();
  auto bytes = builder.build();
  const uint32_t last = static_cast<uint32_t>(builder.strings.size() - 1);
  bytes[string_at(bytes, last) + builder.strings[last].size()] = 'x';
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "no NUL terminator");
}

TEST(Reader, StringLengthPastSection) {
  auto bytes = small_bytes();
  put_u32(bytes, section_offset(bytes, 1) + 8 + 8 * 1 + 4, 100000);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "string 1: offset");
}

TEST(Reader, InvalidUtf8) {
  const uint8_t bad[][3] = {{0xFF, 'a', 'b'}, {0xC0, 0x80, 'a'}, {0xED, 0xA0, 0x80}, {0xE2, 0x82, 'a'}};
  for (const auto& seq : bad) {
    ArchiveBuilder builder = dkr_test::small_model();
    const uint32_t id = builder.str("abc");
    auto bytes = builder.build();
    std::memcpy(&bytes[string_at(bytes, id)], seq, 3);
    fix_crcs(bytes);
    EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "invalid UTF-8");
  }
}

TEST(Reader, EmbeddedNul) {
  ArchiveBuilder builder = dkr_test::small_model();
  const uint32_t id = builder.str("abc");
  auto bytes = builder.build();
  bytes[string_at(bytes, id) + 1] = 0;
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "embedded NUL");
}

TEST(Reader, SharedStringTailsAreAccepted) {
  ArchiveBuilder builder = dkr_test::small_model();
  const uint32_t id = builder.str("relu.out");
  auto bytes = builder.build();
  // Point string `id` at the tail "out" of itself, as a tail-merging writer would.
  const size_t entry = section_offset(bytes, 1) + 8 + 8 * id;
  put_u32(bytes, entry, get_u32(bytes, entry) + 5);
  put_u32(bytes, entry + 4, 3);
  fix_crcs(bytes);
  EXPECT_TRUE(verify(bytes).ok()) << verify(bytes).to_string();
  put_u32(bytes, entry + 4, 2);  // "ou" would need a NUL where 't' is
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "no NUL terminator");
}

TEST(Reader, StringIndexOutOfRange) {
  for (uint32_t bad : {0u, 1u, 0x7FFFFFFFu}) {
    ArchiveBuilder builder = dkr_test::small_model();
    builder.finalize_graph();  // interns the graph name first, so strings.size() is final
    builder.tensors[0].name = bad == 0 ? static_cast<uint32_t>(builder.strings.size()) : bad == 1 ? 0xFFFFFFFFu : bad;
    EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, "tensor 0.name: string index");
  }
}

// ---- tensors ----------------------------------------------------------------------

TEST(Reader, TensorFieldErrors) {
  struct Case {
    void (*corrupt)(ArchiveBuilder&);
    const char* message;
  } cases[] = {
      {[](ArchiveBuilder& b) { b.tensors[0].dtype = 0; }, "dtype 0 is not a valid dtype"},
      {[](ArchiveBuilder& b) { b.tensors[0].dtype = 10; }, "dtype 10 is not a valid dtype"},
      {[](ArchiveBuilder& b) { b.tensors[0].rank = 10000; }, "rank 10000 exceeds"},
      {[](ArchiveBuilder& b) { b.tensors[0].dims[1] = -3; }, "dims[1] = -3 is negative"},
      {[](ArchiveBuilder& b) { b.tensors[0].dims[5] = 7; }, "dims[5] = 7 beyond rank 2"},
      {[](ArchiveBuilder& b) {
         b.tensors[0].rank = 3;
         b.tensors[0].dims[0] = int64_t{1} << 40;
         b.tensors[0].dims[1] = int64_t{1} << 40;
         b.tensors[0].dims[2] = 1;
       },
       "overflows 64 bits"},
      {[](ArchiveBuilder& b) { b.tensors[0].dims[0] = int64_t{1} << 61; }, "overflows 64 bits"},
      {[](ArchiveBuilder& b) { b.tensors[0].nbytes = 100; }, "tensor 0 'c': nbytes 100 != numel 6 x 4 bytes"},
      {[](ArchiveBuilder& b) { b.tensors[0].nbytes = 20; }, "nbytes 20 != numel 6 x 4 bytes"},
      {[](ArchiveBuilder& b) { b.tensors[0].data_offset = 8; }, "not a multiple of 64"},
      {[](ArchiveBuilder& b) { b.tensors[0].data_offset = 64; }, "outside the WEIGHTS section"},
      {[](ArchiveBuilder& b) { b.tensors[0].flags = 2; }, "flags expected 0"},
  };
  for (const Case& c : cases) {
    ArchiveBuilder builder = dkr_test::small_model();
    c.corrupt(builder);
    EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, c.message);
  }
}

TEST(Reader, TensorsSharingBytes) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.constant("d", {2}, {7, 8});
  builder.tensors[1].data_offset = 0;
  EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, "share bytes");
}

TEST(Reader, ZeroSizeTensorCannotReuseAnOffset) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.constant("empty", {0, 3}, {});
  ASSERT_TRUE(verify(builder.build()).ok());
  builder.tensors[1].data_offset = 0;
  EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, "share bytes");
}

TEST(Reader, TensorCountDisagreesWithSection) {
  auto bytes = small_bytes();
  put_u32(bytes, section_offset(bytes, 2), 0xFFFFFFFFu);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "TENSORS: count 4294967295");
}

// ---- graph ------------------------------------------------------------------------

TEST(Reader, GraphCountsOfTwoTo32MinusOneFailOnSize) {
  for (int field = 0; field < 7; ++field) {
    auto bytes = small_bytes();
    put_u32(bytes, section_offset(bytes, 4) + 4 * field, 0xFFFFFFFFu);
    fix_crcs(bytes);
    EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "imply a section of");
  }
}

TEST(Reader, StringsCountOfTwoTo32MinusOne) {
  auto bytes = small_bytes();
  put_u32(bytes, section_offset(bytes, 1), 0xFFFFFFFFu);
  fix_crcs(bytes);
  EXPECT_ERROR(verify(bytes), ErrorCode::kArchive, "STRINGS: count 4294967295");
}

TEST(Reader, GraphStructureErrors) {
  struct Case {
    void (*corrupt)(ArchiveBuilder&);
    const char* message;
  } cases[] = {
      // Value ids equal to the count, INT32_MAX, NONE where not allowed.
      {[](ArchiveBuilder& b) { b.indices[b.nodes[0].input_begin] = static_cast<uint32_t>(b.values.size()); },
       "input 0 is value 6, out of range"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[0].input_begin] = 0x7FFFFFFF; }, "out of range (6 values)"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[0].output_begin] = deployrt::archive::kNone; }, "output 0 is value"},
      {[](ArchiveBuilder& b) { b.nodes[1].input_begin = 0xFFFFFFF0u; }, "run past the index pool"},
      {[](ArchiveBuilder& b) { b.nodes[1].attr_begin = static_cast<uint32_t>(b.attrs.size()); },
       "run past the attrs array"},
      {[](ArchiveBuilder& b) { b.values[3].rank = 10000; }, "value 3 'relu.out': rank 10000"},
      {[](ArchiveBuilder& b) { b.values[3].dims[0] = -1; }, "is negative"},
      {[](ArchiveBuilder& b) { b.values[0].kind = 4; }, "kind 4"},
      {[](ArchiveBuilder& b) { b.values[0].tensor = 0; }, "expected NONE"},
      {[](ArchiveBuilder& b) { b.values[2].tensor = 1; }, "tensor index 1 out of range"},
      {[](ArchiveBuilder& b) { b.values[2].dims[0] = 3; }, "differ from those of its tensor"},
      // Dataflow: used before defined, defined twice, writing a weight or an input.
      {[](ArchiveBuilder& b) { b.indices[b.nodes[0].input_begin] = 4; }, "uses value 4 'add1.out' before it is defined"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[0].input_begin] = 3; }, "before it is defined"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[1].output_begin] = 3; }, "value 3 'relu.out' is defined twice"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[1].output_begin] = 2; }, "a node may only write kind-3 values"},
      {[](ArchiveBuilder& b) { b.indices[b.nodes[1].output_begin] = 0; }, "a node may only write kind-3 values"},
      {[](ArchiveBuilder& b) {
         uint32_t orphan = b.add_value("orphan", 3, deployrt::DType::kF32, {2, 3});
         b.graph_outputs[0] = orphan;
       },
       "value 6 'orphan' is never produced in graph 0"},
      {[](ArchiveBuilder& b) {
         uint32_t orphan = b.add_value("orphan", 3, deployrt::DType::kF32, {2, 3});
         b.indices[b.nodes[2].input_begin] = orphan;
       },
       "which nothing defines"},
      {[](ArchiveBuilder& b) { b.graph_inputs.push_back(0); }, "defined twice"},
      {[](ArchiveBuilder& b) { b.graph_inputs.push_back(3); }, "expected 1 (graph input)"},
      {[](ArchiveBuilder& b) { b.graph_outputs.clear(); }, "the main graph has no outputs"},
      // Attributes.
      {[](ArchiveBuilder& b) { b.attrs[0].type = 7; }, "type tag 7"},
      {[](ArchiveBuilder& b) { b.attrs[0].type = 3, b.attrs[0].a = 0, b.attrs[0].b = 5; }, "run past the int pool"},
      {[](ArchiveBuilder& b) { b.attrs[0].b = 1; }, "expected 0 for a scalar"},
      {[](ArchiveBuilder& b) { b.attrs[0].name = 0; }, "empty name"},
      {[](ArchiveBuilder& b) { b.attrs[0].type = 6, b.attrs[0].a = 0; }, "GRAPH payload"},
      {[](ArchiveBuilder& b) {
         b.attrs.push_back(b.attrs[0]);
         b.nodes[1].attr_count = 2;
       },
       "attribute 'alpha' appears twice"},
      // Shared ranges would let a small file demand quadratic work.
      {[](ArchiveBuilder& b) {
         b.nodes[2].attr_begin = 0;
         b.nodes[2].attr_count = 2;
       },
       "ranges must not be shared"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    ArchiveBuilder builder = dkr_test::small_model();
    cases[i].corrupt(builder);
    SCOPED_TRACE("case " + std::to_string(i));
    EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, cases[i].message);
  }
}

TEST(Reader, SubgraphCycleRejected) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.finalize_graph();
  // Graph 1 holds node 2 and refers to itself through a GRAPH attribute.
  builder.graphs[0].node_count = 2;
  ArchiveBuilder::GraphRow sub;
  sub.name = builder.str("body");
  sub.node_begin = 2;
  sub.node_count = 1;
  builder.graphs.push_back(sub);
  builder.attrs[1].type = 6;
  builder.attrs[1].a = 1;
  builder.indices[builder.graphs[0].output_begin] = 3;  // graph 0 no longer produces add2.out
  EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, "cycle of GRAPH attributes");
}

TEST(Reader, MetadataMustBeUtf8) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.metadata = "{\"a\": \"\xC3\x28\"}";
  EXPECT_ERROR(verify(builder.build()), ErrorCode::kArchive, "METADATA: invalid UTF-8");
}

// ---- ops (graph building) --------------------------------------------------------

TEST(Reader, AllUnknownOpsNamedInOneError) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.nodes[0].op = 99;
  builder.nodes[2].op = 4000;
  const Status st = load(builder.build());
  EXPECT_EQ(st.code(), ErrorCode::kUnsupported) << st.to_string();
  for (const char* part : {"99", "4000", "'relu'", "'add2'", "model.py:3"}) {
    EXPECT_NE(st.message().find(part), std::string::npos) << st.message() << " lacks " << part;
  }
}

TEST(Reader, WrongArity) {
  ArchiveBuilder builder;
  uint32_t x = builder.input("x", deployrt::DType::kF32, {2});
  builder.output(builder.node(deployrt::OpKind::kRelu, "relu", {x, x}, {2}));
  EXPECT_ERROR(load(builder.build()), ErrorCode::kArchive, "has 2 inputs, expected 1");
}

TEST(Reader, InferredShapeMustMatchArchive) {
  ArchiveBuilder builder = dkr_test::small_model();
  builder.values[3].dims[1] = 4;  // relu.out claims f32[2,4]
  EXPECT_ERROR(load(builder.build()), ErrorCode::kArchive, "the archive says f32[2,4], shape inference gives f32[2,3]");
}

TEST(Reader, GiganticIntermediateHitsArenaLimit) {
  ArchiveBuilder builder;
  uint32_t x = builder.input("x", deployrt::DType::kF32, {1 << 20, 1 << 13});  // 32 GiB
  builder.output(builder.node(deployrt::OpKind::kRelu, "relu", {x}, {1 << 20, 1 << 13}));
  EXPECT_ERROR(load(builder.build()), ErrorCode::kLimit, "activation arena");
}

TEST(Reader, LongChainLoadsWithoutRecursion) {
  ArchiveBuilder builder;
  uint32_t v = builder.input("x", deployrt::DType::kF32, {1});
  for (int i = 0; i < 100000; ++i) v = builder.node(deployrt::OpKind::kRelu, "r" + std::to_string(i), {v}, {1});
  builder.output(v);
  const auto bytes = builder.build();
  auto result = deployrt::Module::Impl::load_from_memory(bytes.data(), bytes.size(), {1});
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result.value().num_nodes(), 100000u);
  EXPECT_LE(result.value().arena_bytes(), 3u * 64);  // two live buffers at a time, plus the output
}

// ---- sweeps -----------------------------------------------------------------------

// Flips every bit of every byte: CRCs must catch each one with a typed archive error.
TEST(Reader, EveryBitFlipIsCaughtByChecksums) {
  const auto bytes = small_bytes();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto copy = bytes;
      copy[i] ^= static_cast<uint8_t>(1u << bit);
      Status st = verify(copy);
      ASSERT_FALSE(st.ok()) << "flip of byte " << i << " bit " << bit << " went unnoticed";
      ASSERT_NE(st.code(), ErrorCode::kInternal) << st.to_string();
    }
  }
}

// Flips each byte, then recomputes CRCs so the semantic checks are what must hold:
// the result is a typed error, or an archive that loads and runs. Never a crash.
TEST(Reader, EveryByteFlipWithValidChecksumsIsTypedErrorOrRuns) {
  const auto bytes = small_bytes();
  std::vector<float> x(6, -1.5f);
  size_t loaded = 0, rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      auto copy = bytes;
      copy[i] ^= mask;
      fix_crcs(copy);
      auto module = deployrt::Module::Impl::load_from_memory(copy.data(), copy.size(), {1});
      if (!module.ok()) {
        ASSERT_NE(module.status().code(), ErrorCode::kInternal) << "byte " << i << ": " << module.status().to_string();
        ++rejected;
        continue;
      }
      ++loaded;
      std::vector<deployrt::Tensor> inputs;
      for (const auto& info : module.value().inputs()) {
        // Only feed inputs whose size the small buffers cover; others must fail typed.
        const bool small = info.dtype == deployrt::DType::kF32 && info.shape == std::vector<int64_t>{2, 3};
        inputs.push_back(small ? deployrt::Tensor::wrap(x.data(), info.dtype, info.shape)
                               : deployrt::Tensor::wrap(x.data(), deployrt::DType::kF32, {6}));
      }
      auto out = module.value().try_forward(inputs);
      ASSERT_TRUE(out.ok() || out.status().code() == ErrorCode::kInput) << out.status().to_string();
    }
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(loaded, 0u);  // weight and metadata flips still load
}

}  // namespace
