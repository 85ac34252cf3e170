// BAD_INPUTS.md, case by case, through the public API (Module::try_load_from_memory /
// try_forward). Cases that reader_test.cc already pins down at the verifier level are
// listed in the comment of each section; this file adds the rest, the per-op semantic
// cases on an archive that uses every op, and the deterministic sweeps over it.
//
//   1 truncation .......... reader_test EmptyFile, EveryPrefixTruncationIsAnArchiveError; Sweep below
//   2 magic/version/endian  reader_test WrongMagic, FutureMajorVersionIsUnsupported, WrongByteOrder
//   3 offset/size/wrap .... reader_test SectionPastEndOfFile, SectionOffsetPlusSizeWraps
//   4 overlap / in header . reader_test OverlappingSections, SectionInsideHeader
//   5 alignment ........... reader_test MisalignedSection, TensorFieldErrors; Case05 here (unaligned base)
//   6 strings ............. reader_test StringWithoutTerminator, StringLengthPastSection, InvalidUtf8, EmbeddedNul
//   7 indices ............. reader_test StringIndexOutOfRange, GraphStructureErrors; Case07 here
//   8 counts .............. reader_test GraphCountsOfTwoTo32MinusOneFailOnSize, StringsCount..., TensorCount...
//   9 rank/dims ........... reader_test TensorFieldErrors; Case09 here (zero dim and rank 0 run)
//  10 overflow ............ reader_test TensorFieldErrors ("overflows 64 bits")
//  11 weight data ......... reader_test TensorFieldErrors (outside WEIGHTS, nbytes shorter/longer)
//  12 shared bytes ........ reader_test TensorsSharingBytes, ZeroSizeTensorCannotReuseAnOffset
//  13-20, 21, 23 .......... here (22: tests/test_bad_inputs.py, against PyTorch)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "archive/reader.h"
#include "archive_builder.h"
#include "module_test_util.h"
#include "core/limits.h"
#include "every_op_archive.h"
#include "sweep.h"

namespace {

using namespace dkr_test::module_names;
using dkr_test::EveryOp;
using dkr_test::load_status;

// The AttrRow of node `node` named `name`.
A::AttrRow& attr_of(ArchiveBuilder& b, uint32_t node, const std::string& name) {
  const A::NodeRow& n = b.nodes[node];
  for (uint32_t k = 0; k < n.attr_count; ++k) {
    if (b.strings[b.attrs[n.attr_begin + k].name] == name) return b.attrs[n.attr_begin + k];
  }
  ADD_FAILURE() << "node " << node << " has no attribute " << name;
  return b.attrs[0];
}

// Entry `k` of node `node`'s INTS attribute `name`.
int64_t& ints_of(ArchiveBuilder& b, uint32_t node, const std::string& name, size_t k) {
  return b.ints[attr_of(b, node, name).a + k];
}

std::vector<float> run_every_op(const std::vector<uint8_t>& bytes, const float* x) {
  Module m = Module::load_from_memory(bytes.data(), bytes.size(), {1});
  std::vector<Tensor> y = m.forward({Tensor::wrap(x, DType::kF32, {1, 3, 8, 8})});
  return std::vector<float>(y[0].data_as<float>(), y[0].data_as<float>() + y[0].numel());
}

TEST(BadInputs, EveryOpArchiveLoadsAndRuns) {
  EveryOp m = dkr_test::every_op_model();
  const auto bytes = m.b.build();
  ASSERT_TRUE(load_status(bytes).ok()) << load_status(bytes).to_string();
  std::vector<float> x = dkr_test::ramp(192, 0.3f);
  std::vector<float> y = run_every_op(bytes, x.data());
  ASSERT_EQ(y.size(), 20u);
  for (int r = 0; r < 4; ++r) {  // softmax rows sum to 1
    float sum = 0;
    for (int c = 0; c < 5; ++c) sum += y[r * 5 + c];
    EXPECT_NEAR(sum, 1.0f, 1e-5f);
  }
}

// ---- 5: a load-from-memory buffer with an unaligned base ---------------------------
TEST(BadInputs, Case05_UnalignedBaseIsCopiedAndRunsIdentically) {
  const auto bytes = dkr_test::every_op_model().b.build();
  std::vector<float> x = dkr_test::ramp(192, 0.3f);
  const std::vector<float> expected = run_every_op(bytes, x.data());
  for (size_t shift : {1, 3, 8, 17, 63}) {
    std::vector<uint8_t> shifted(bytes.size() + shift);
    std::memcpy(shifted.data() + shift, bytes.data(), bytes.size());
    Module m = Module::load_from_memory(shifted.data() + shift, bytes.size(), {1});
    shifted.assign(shifted.size(), 0xCD);  // the module owns a copy: the caller's buffer can go
    std::vector<Tensor> y = m.forward({Tensor::wrap(x.data(), DType::kF32, {1, 3, 8, 8})});
    ASSERT_EQ(std::memcmp(y[0].data(), expected.data(), expected.size() * 4), 0) << "shift " << shift;
  }
  EXPECT_ERROR(Module::try_load_from_memory(nullptr, 10).status(), ErrorCode::kInput, "data is null");
}

// ---- 7: indices equal to the count, INT32_MAX, "negative" (u32 0xFFFFFFFF) ---------
TEST(BadInputs, Case07_IndicesOutOfRange) {
  for (uint32_t bad : {0u /*= count, set below*/, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    EveryOp m = dkr_test::every_op_model();
    const uint32_t tensor_bad = bad == 0 ? static_cast<uint32_t>(m.b.tensors.size()) : bad;
    m.b.values[1].tensor = tensor_bad;  // value 1 is the constant conv.w
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "tensor index " + std::to_string(tensor_bad) + " out of range");
  }
  for (uint32_t bad : {1u, 0x7FFFFFFFu, 0xFFFFFFFFu}) {
    EveryOp m = dkr_test::every_op_model();
    m.b.finalize_graph();
    m.b.graphs[0].node_begin = bad;
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "run past the node array");
  }
  EveryOp m = dkr_test::every_op_model();
  m.b.nodes[3].name = 0x7FFFFFFF;
  EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "node 3.name: string index 2147483647 out of range");
}

// ---- 9: zero dims and rank 0 are valid and run; rank 10000 and negative dims are not --
TEST(BadInputs, Case09_ZeroDimAndRankZeroRun) {
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {0, 3});
  const uint32_t s = b.input("s", DType::kF32, {});
  b.output(b.node(OpKind::kRelu, "relu0", {x}, {0, 3}));
  b.output(b.node(OpKind::kSigmoid, "sig", {s}, {}));
  const auto bytes = b.build();
  Module m = Module::load_from_memory(bytes.data(), bytes.size(), {1});
  float scalar = 0.0f;
  std::vector<Tensor> y = m.forward({Tensor::wrap(&scalar, DType::kF32, {0, 3}), Tensor::wrap(&scalar, DType::kF32, {})});
  EXPECT_EQ(y[0].shape(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(y[1].rank(), 0);
  EXPECT_FLOAT_EQ(y[1].data_as<float>()[0], 0.5f);
}

// ---- 13: dtype that does not fit the op ------------------------------------------------
TEST(BadInputs, Case13_DtypeThatDoesNotFitTheOp) {
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF64, {2, 3});
  b.output(b.node(OpKind::kRelu, "relu", {x}, {2, 3}));
  EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "relu 'relu' (model.py:1): input 'x' must be f32, got f64[2,3]");
  b = ArchiveBuilder();
  const uint32_t y = b.input("y", DType::kF32, {2, 3});
  b.output(b.node(OpKind::kRelu, "relu", {y}, {2, 3}));
  b.values[1].dtype = static_cast<uint32_t>(DType::kI32);  // output claims i32
  EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "the archive says i32[2,3], shape inference gives f32[2,3]");
}

// ---- 14: op, arity, attribute count and type, attribute list bounds -------------------
TEST(BadInputs, Case14_OpArityAndAttributes) {
  {
    EveryOp m = dkr_test::every_op_model();
    m.b.nodes[m.softmax].op = static_cast<uint32_t>(OpKind::kCount) + 5;
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kUnsupported, "does not implement 1 op");
  }
  {  // two outputs for a one-output op
    ArchiveBuilder b;
    const uint32_t x = b.input("x", DType::kF32, {2});
    const uint32_t r = b.node(OpKind::kRelu, "relu", {x}, {2});
    const uint32_t extra = b.add_value("extra", 3, DType::kF32, {2});
    b.indices.push_back(extra);  // directly after relu's output index
    b.nodes[0].output_count = 2;
    b.output(r);
    EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "has 2 outputs, expected 1");
  }
  {  // too many inputs for add
    ArchiveBuilder b;
    const uint32_t x = b.input("x", DType::kF32, {2});
    b.output(b.node(OpKind::kAdd, "add", {x, x, x}, {2}, {A::float_attr("alpha", 1.0)}));
    EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "has 3 inputs, expected 2");
  }
  {  // an attribute the op does not have: rejected in 1.0, ignored from 1.1 on
    ArchiveBuilder b;
    const uint32_t x = b.input("x", DType::kF32, {2, 3});
    b.output(b.node(OpKind::kSoftmax, "softmax", {x}, {2, 3}, {A::int_attr("axis", 1), A::int_attr("temperature", 2)}));
    auto bytes = b.build();
    EXPECT_ERROR(load_status(bytes), ErrorCode::kArchive, "attribute 1 'temperature' (attr entry 1) is not an attribute of softmax");
    dkr_test::put_u16(bytes, 10, 1);
    dkr_test::fix_crcs(bytes);
    EXPECT_TRUE(load_status(bytes).ok()) << load_status(bytes).to_string();
  }
  {  // missing attribute (too few)
    EveryOp m = dkr_test::every_op_model();
    m.b.nodes[m.conv].attr_count = 3;
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "conv2d 'conv' (model.py:1): missing attribute 'groups'");
  }
  {  // type tag that disagrees with what the op needs, and with its payload
    EveryOp m = dkr_test::every_op_model();
    attr_of(m.b, m.conv, "groups").type = 2;  // FLOAT
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "attribute 'groups' has type FLOAT, expected INT");
    m = dkr_test::every_op_model();
    A::AttrRow& axis = attr_of(m.b, m.softmax, "axis");
    axis.type = 5;  // STRING with an out-of-range string index
    axis.a = 1u << 30;
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "STRING payload a=1073741824");
  }
  {  // attribute list and INTS payload running past their arrays
    EveryOp m = dkr_test::every_op_model();
    m.b.nodes[m.softmax].attr_begin = static_cast<uint32_t>(m.b.attrs.size());
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "run past the attrs array");
    m = dkr_test::every_op_model();
    attr_of(m.b, m.reshape, "shape").b = uint64_t{1} << 63;
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, "run past the int pool");
  }
}

// ---- 15: dataflow ---------------------------------------------------------------------
TEST(BadInputs, Case15_Dataflow) {
  // A two-node cycle: relu_a reads relu_b's output and vice versa.
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {2});
  const uint32_t ra = b.node(OpKind::kRelu, "a", {x}, {2});
  const uint32_t rb = b.node(OpKind::kRelu, "b", {ra}, {2});
  b.indices[b.nodes[0].input_begin] = rb;
  b.output(rb);
  EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "uses value 2 'b.out' before it is defined");
}

// ---- 16: a chain of 10^6 nodes; nesting limits ----------------------------------------
TEST(BadInputs, Case16_MillionNodeChainVerifiesIteratively) {
  // Built directly (not through ArchiveBuilder::node) to keep the test fast: 10^6 relu
  // nodes over f32[1], no names. The verifier and the loader are iterative throughout.
  constexpr uint32_t kNodes = 1000000;
  ArchiveBuilder b;
  b.input("x", DType::kF32, {1});
  b.values.reserve(kNodes + 1);
  b.nodes.reserve(kNodes);
  b.indices.reserve(2 * kNodes + 2);
  for (uint32_t i = 0; i < kNodes; ++i) {
    A::ValueRow v = b.values[0];
    v.kind = 3;
    v.name = 0;
    b.values.push_back(v);
    A::NodeRow n;
    n.op = static_cast<uint32_t>(OpKind::kRelu);
    n.input_begin = static_cast<uint32_t>(b.indices.size());
    n.input_count = 1;
    b.indices.push_back(i);
    n.output_begin = static_cast<uint32_t>(b.indices.size());
    n.output_count = 1;
    b.indices.push_back(i + 1);
    b.nodes.push_back(n);
  }
  b.output(kNodes);
  const auto bytes = b.build();
  auto view = deployrt::archive::ArchiveView::verify(bytes.data(), bytes.size());
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  EXPECT_EQ(view.value().node_count(), kNodes);
}

TEST(BadInputs, Case16_SubgraphNestingBeyondTheLimit) {
  // Graphs 1..D each hold one relu node whose GRAPH attribute names the next graph.
  const uint32_t depth = deployrt::limits::kMaxSubgraphDepth + 1;
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {2});
  b.output(b.node(OpKind::kRelu, "main", {x}, {2}));
  b.finalize_graph();
  for (uint32_t g = 1; g <= depth; ++g) {
    const uint32_t in = b.add_value("in" + std::to_string(g), 1, DType::kF32, {2});
    const uint32_t out = b.node(OpKind::kRelu, "sub" + std::to_string(g), {in}, {2});
    A::GraphRow row;
    row.name = b.str("g" + std::to_string(g));
    row.node_begin = g;
    row.node_count = 1;
    row.input_begin = static_cast<uint32_t>(b.indices.size());
    row.input_count = 1;
    b.indices.push_back(in);
    row.output_begin = static_cast<uint32_t>(b.indices.size());
    row.output_count = 1;
    b.indices.push_back(out);
    b.graphs.push_back(row);
  }
  // Node g-1 (graph g-1) refers to graph g.
  for (uint32_t g = 1; g <= depth; ++g) {
    A::AttrRow a;
    a.name = b.str("body");
    a.type = 6;
    a.a = g;
    b.nodes[g - 1].attr_begin = static_cast<uint32_t>(b.attrs.size());
    b.nodes[g - 1].attr_count = 1;
    b.attrs.push_back(a);
  }
  EXPECT_ERROR(load_status(b.build()), ErrorCode::kLimit, "subgraph levels deep");
}

// ---- 17: conv/pool parameters ------------------------------------------------------------
TEST(BadInputs, Case17_ConvAndPoolParameters) {
  struct Case {
    void (*corrupt)(EveryOp&);
    const char* message;
  } cases[] = {
      {[](EveryOp& m) { ints_of(m.b, m.conv, "stride", 0) = 0; }, "attribute 'stride' must have values >= 1"},
      {[](EveryOp& m) { ints_of(m.b, m.conv, "dilation", 1) = 0; }, "attribute 'dilation' must have values >= 1"},
      {[](EveryOp& m) { ints_of(m.b, m.max_pool, "kernel", 0) = 0; }, "attribute 'kernel' must have values >= 1"},
      {[](EveryOp& m) { attr_of(m.b, m.conv, "groups").a = 0; }, "attribute 'groups' must be >= 1, got 0"},
      {[](EveryOp& m) { attr_of(m.b, m.conv, "groups").a = 2; }, "groups 2 must divide input channels 3"},
      {[](EveryOp& m) { ints_of(m.b, m.conv, "pads", 2) = -1; }, "attribute 'pads' must have values >= 0"},
      {[](EveryOp& m) { ints_of(m.b, m.conv, "dilation", 0) = 9; }, "output height would be < 1"},
      {[](EveryOp& m) {
         ints_of(m.b, m.avg_pool, "kernel", 1) = 9;
         ints_of(m.b, m.avg_pool, "pads", 1) = 0;
       },
       "output width is"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    EveryOp m = dkr_test::every_op_model();
    cases[i].corrupt(m);
    EXPECT_ERROR(load_status(m.b.build()), ErrorCode::kArchive, cases[i].message);
  }
}

// ---- 18: reshape, axes, duplicate dims, concat -------------------------------------------
TEST(BadInputs, Case18_ShapeOps) {
  struct Case {
    void (*corrupt)(EveryOp&);
    const char* message;
  } cases[] = {
      {[](EveryOp& m) { ints_of(m.b, m.reshape, "shape", 0) = 5; }, "reshape 'reshape'"},
      {[](EveryOp& m) {
         ints_of(m.b, m.reshape, "shape", 0) = -1;
         ints_of(m.b, m.reshape, "shape", 1) = -1;
       },
       "shape [-1,-1] has more than one -1"},
      {[](EveryOp& m) { attr_of(m.b, m.softmax, "axis").a = 2; }, "attribute 'axis' = 2 is out of range for rank 2"},
      {[](EveryOp& m) { attr_of(m.b, m.cat, "axis").a = static_cast<uint64_t>(-1); }, "attribute 'axis' = -1 is out of range"},
      {[](EveryOp& m) { ints_of(m.b, m.mean, "dims", 1) = 2; }, "mean 'mean'"},
      {[](EveryOp& m) { m.b.values[m.b.indices[m.b.nodes[m.avg_pool].output_begin]].dims[2] = 1; }, "avg_pool2d 'avg_pool'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    EveryOp m = dkr_test::every_op_model();
    cases[i].corrupt(m);
    const Status st = load_status(m.b.build());
    EXPECT_ERROR(st, ErrorCode::kArchive, cases[i].message);
  }
  {  // concat with mismatched non-axis dims (the inputs themselves are consistent)
    ArchiveBuilder b;
    const uint32_t x = b.input("x", DType::kF32, {2, 3});
    const uint32_t y = b.input("y", DType::kF32, {3, 3});
    b.output(b.node(OpKind::kCat, "cat", {x, y}, {2, 6}, {A::int_attr("axis", 1)}));
    EXPECT_ERROR(load_status(b.build()), ErrorCode::kArchive, "cat 'cat'");
  }
}

// ---- 19: gigantic intermediates against the arena limit ----------------------------------
TEST(BadInputs, Case19_ArenaLimitDefaultAndPerLoad) {
  ArchiveBuilder b;
  const uint32_t x = b.input("x", DType::kF32, {1 << 20, 1 << 13});  // 32 GiB intermediate
  b.output(b.node(OpKind::kRelu, "relu", {x}, {1 << 20, 1 << 13}));
  EXPECT_ERROR(load_status(b.build()), ErrorCode::kLimit, "activation arena");
  const auto bytes = dkr_test::every_op_model().b.build();
  LoadOptions tight;
  tight.num_threads = 1;
  tight.max_arena_bytes = 256;
  EXPECT_ERROR(load_status(bytes, tight), ErrorCode::kLimit, "activation arena");
  tight.max_arena_bytes = 1 << 20;
  EXPECT_TRUE(load_status(bytes, tight).ok());
}

// ---- 20: copy-on-load survives the file being truncated after load -----------------------
TEST(BadInputs, Case20_CopyOnLoadIsImmuneToTruncation) {
  const auto bytes = dkr_test::every_op_model().b.build();
  std::vector<float> x = dkr_test::ramp(192, 0.3f);
  const std::vector<float> expected = run_every_op(bytes, x.data());
  const std::string path = dkr_test::write_temp(bytes, "copy_on_load_" + std::to_string(::getpid()) + ".dkr");
  LoadOptions options;
  options.num_threads = 1;
  options.copy_file = true;
  Module m = Module::load(path, options);
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  std::vector<Tensor> y = m.forward({Tensor::wrap(x.data(), DType::kF32, {1, 3, 8, 8})});
  EXPECT_EQ(std::memcmp(y[0].data(), expected.data(), expected.size() * 4), 0);
  // Loading the now-truncated file is a typed error in both modes.
  EXPECT_ERROR(Module::try_load(path, options).status(), ErrorCode::kArchive, "header.file_size");
  options.copy_file = false;
  EXPECT_ERROR(Module::try_load(path, options).status(), ErrorCode::kArchive, "header.file_size");
  std::remove(path.c_str());
}

// ---- 21: run-time inputs -------------------------------------------------------------
TEST(BadInputs, Case21_RunTimeInputs) {
  const auto bytes = dkr_test::every_op_model().b.build();
  Module m = Module::load_from_memory(bytes.data(), bytes.size(), {1});
  std::vector<float> x(192, 0.5f);
  auto fwd = [&](std::vector<Tensor> in) { return m.try_forward(in).status(); };
  EXPECT_ERROR(fwd({}), ErrorCode::kInput, "expected 1 inputs, got 0");
  EXPECT_ERROR(fwd({Tensor::wrap(x.data(), DType::kF32, {3, 8, 8})}), ErrorCode::kInput,
               "input 0 'x': expected f32[1,3,8,8], got f32[3,8,8]");
  EXPECT_ERROR(fwd({Tensor::wrap(x.data(), DType::kF32, {0, 3, 8, 8})}), ErrorCode::kInput, "got f32[0,3,8,8]");
  EXPECT_ERROR(fwd({Tensor::wrap(x.data(), DType::kI32, {1, 3, 8, 8})}), ErrorCode::kInput, "got i32[1,3,8,8]");
  EXPECT_ERROR(fwd({Tensor::wrap(static_cast<const void*>(nullptr), DType::kF32, {1, 3, 8, 8})}), ErrorCode::kInput,
               "data pointer is null");
  EXPECT_ERROR(fwd({Tensor()}), ErrorCode::kInput, "got invalid[]");
}

// ---- 1 and 20, swept: every truncation and byte flip of the every-op archive -----------
TEST(BadInputs, SweepEveryTruncationAndByteFlip) {
  const auto bytes = dkr_test::every_op_model().b.build();
  const auto truncations = dkr_fuzz::sweep_truncations(bytes);
  EXPECT_EQ(truncations.typed_error, bytes.size());  // every proper prefix is refused
  const auto flips = dkr_fuzz::sweep_flips(bytes, false);
  EXPECT_EQ(flips.typed_error, bytes.size());  // the checksums catch every flip
  const auto fixed = dkr_fuzz::sweep_flips(bytes, true);
  EXPECT_EQ(fixed.cases, bytes.size());
  EXPECT_GT(fixed.typed_error, 0u);
  EXPECT_GT(fixed.ran, 0u);  // weight and metadata flips still load and run
  std::printf("[ sweep    ] %zu bytes: truncations %zu typed; flips %zu typed; flips+crc %zu typed, %zu ran, "
              "%zu run-rejected\n",
              bytes.size(), truncations.typed_error, flips.typed_error, fixed.typed_error, fixed.ran,
              fixed.run_rejected);
}

}  // namespace
