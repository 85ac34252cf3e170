// The op table (find_op, op_name) and the NodeInfo/TensorDesc helpers of ops/op.h.
#include <gtest/gtest.h>

#include <cstdint>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::f32_desc;

TEST(OpTable, EveryCodeOfOpsMdHasItsOp) {
  const char* const names[] = {"conv2d", "batch_norm", "relu", "add", "max_pool2d", "avg_pool2d",
                               "adaptive_avg_pool2d", "flatten", "linear", "hardtanh", "sigmoid", "mul",
                               "reshape", "cat", "mean", "softmax", "if", "loop", "sub", "div", "compare",
                               "logical_not", "logical", "sum", "cast", "size"};
  for (uint32_t code = 1; code < static_cast<uint32_t>(OpKind::kCount); ++code) {
    const OpDef* def = find_op(code);
    ASSERT_NE(def, nullptr) << code;
    EXPECT_EQ(static_cast<uint32_t>(def->kind), code);
    EXPECT_STREQ(def->name, names[code - 1]);
    EXPECT_EQ(op_name(code), names[code - 1]);
    EXPECT_GE(def->min_inputs, code == static_cast<uint32_t>(OpKind::kLoop) ? 2 : 1);
    EXPECT_TRUE(def->max_inputs == -1 || def->max_inputs >= def->min_inputs);
    // if and loop have as many outputs as their subgraphs return.
    const bool control_flow = code == static_cast<uint32_t>(OpKind::kIf) || code == static_cast<uint32_t>(OpKind::kLoop);
    EXPECT_EQ(def->num_outputs, control_flow ? -1 : 1);
    EXPECT_NE(def->infer, nullptr);
    EXPECT_NE(def->create, nullptr);
  }
}

TEST(OpTable, UnknownCodes) {
  EXPECT_EQ(find_op(0), nullptr);
  EXPECT_EQ(find_op(static_cast<uint32_t>(OpKind::kCount)), nullptr);
  EXPECT_EQ(find_op(UINT32_MAX), nullptr);
  EXPECT_EQ(op_name(0), "op#0");
  EXPECT_EQ(op_name(123), "op#123");
}

TEST(TensorDesc, ToStringAndSameAs) {
  EXPECT_EQ(f32_desc({1, 3, 224, 224}).to_string(), "f32[1,3,224,224]");
  EXPECT_EQ(f32_desc({}).to_string(), "f32[]");
  EXPECT_TRUE(f32_desc({2, 3}).same_as(f32_desc({2, 3})));
  EXPECT_FALSE(f32_desc({2, 3}).same_as(f32_desc({3, 2})));
  EXPECT_FALSE(f32_desc({2, 3}).same_as(f32_desc({2, 3, 1})));
  TensorDesc i64 = f32_desc({2, 3});
  i64.dtype = DType::kI64;
  EXPECT_FALSE(f32_desc({2, 3}).same_as(i64));
}

TEST(NodeInfo, ErrorPrefix) {
  NodeInfo node;
  node.op = OpKind::kRelu;
  EXPECT_EQ(node.error("bad").message(), "relu: bad");
  node.name = "act";
  EXPECT_EQ(node.error("bad").message(), "relu 'act': bad");
  node.source = "model.py:7";
  const Status st = node.error("bad");
  EXPECT_EQ(st.code(), ErrorCode::kArchive);
  EXPECT_EQ(st.message(), "relu 'act' (model.py:7): bad");
}

TEST(NodeInfo, TypedAttributes) {
  NodeInfo node;
  node.op = OpKind::kConv2d;
  Attr i;
  i.name = "groups";
  i.type = AttrType::kInt;
  i.i = 4;
  Attr f;
  f.name = "eps";
  f.type = AttrType::kFloat;
  f.f = 0.5;
  Attr v;
  v.name = "stride";
  v.type = AttrType::kInts;
  v.ints = {2, 3};
  node.attrs = {i, f, v};

  int64_t iv = 0;
  double fv = 0;
  std::vector<int64_t> vv;
  ASSERT_TRUE(node.get_int("groups", &iv).ok());
  EXPECT_EQ(iv, 4);
  ASSERT_TRUE(node.get_float("eps", &fv).ok());
  EXPECT_EQ(fv, 0.5);
  ASSERT_TRUE(node.get_ints("stride", 2, &vv).ok());
  EXPECT_EQ(vv, (std::vector<int64_t>{2, 3}));
  ASSERT_TRUE(node.get_ints("stride", SIZE_MAX, &vv).ok());
  EXPECT_EQ(node.find("nope"), nullptr);
  EXPECT_EQ(node.find("eps"), &node.attrs[1]);

  EXPECT_ARCHIVE_ERROR(node.get_int("eps", &iv), "attribute 'eps' has type FLOAT, expected INT");
  EXPECT_ARCHIVE_ERROR(node.get_float("groups", &fv), "attribute 'groups' has type INT, expected FLOAT");
  EXPECT_ARCHIVE_ERROR(node.get_ints("stride", 4, &vv), "attribute 'stride' has 2 values, expected 4");
  EXPECT_ARCHIVE_ERROR(node.get_int("missing", &iv), "missing attribute 'missing'");
}

}  // namespace
}  // namespace deployrt
