// sub, div, compare, logical_not, logical, sum, cast, size (codes 19-26) and i64 add/mul:
// hand-computed values over broadcasting, wrap-around, division edge cases, NaN, rank 0,
// and the validation each infer() does. Run on 1- and 2-thread pools.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "ops_test_util.h"

namespace deployrt {
namespace {

using testing::typed_desc;

// A node with typed inputs (raw element bytes), run through infer + create + run.
class TypedOp {
 public:
  explicit TypedOp(OpKind op) { node_.op = op; }
  template <class T>
  TypedOp& in(DType dtype, const std::vector<int64_t>& shape, const std::vector<T>& data) {
    node_.inputs.push_back(typed_desc(dtype, shape));
    node_.present.push_back(true);
    node_.constant_data.push_back(nullptr);
    data_.emplace_back(reinterpret_cast<const uint8_t*>(data.data()),
                       reinterpret_cast<const uint8_t*>(data.data()) + data.size() * sizeof(T));
    return *this;
  }
  TypedOp& attr(const std::string& name, int64_t v) {
    node_.attrs.push_back(testing::int_attr(name, v));
    return *this;
  }
  TypedOp& attr_f(const std::string& name, double v) {
    node_.attrs.push_back(testing::float_attr(name, v));
    return *this;
  }
  TypedOp& attr_ints(const std::string& name, std::vector<int64_t> v) {
    node_.attrs.push_back(testing::ints_attr(name, std::move(v)));
    return *this;
  }
  Status infer() {
    NodeInfo n = node_;
    Status st = find_op(static_cast<uint32_t>(n.op))->infer(n);
    if (st.ok()) out_ = n.outputs.at(0);
    return st;
  }
  const TensorDesc& out_desc() const { return out_; }

  // Output 0 as T, checked identical on 1 and 2 threads.
  template <class T>
  std::vector<T> run() {
    std::vector<uint8_t> one = run_bytes(1), two = run_bytes(2);
    EXPECT_EQ(one, two);
    std::vector<T> out(one.size() / sizeof(T));
    if (!one.empty()) std::memcpy(out.data(), one.data(), one.size());
    return out;
  }

 private:
  std::vector<uint8_t> run_bytes(int threads) {
    NodeInfo n = node_;
    const OpDef* def = find_op(static_cast<uint32_t>(n.op));
    Status st = def->infer(n);
    if (!st.ok()) {
      ADD_FAILURE() << st.to_string();
      return {};
    }
    out_ = n.outputs[0];
    auto kernel = def->create(n);
    if (!kernel.ok()) {
      ADD_FAILURE() << kernel.status().to_string();
      return {};
    }
    std::vector<TensorRef> refs(def->input_slots(n.inputs.size()));
    for (size_t i = 0; i < n.inputs.size(); ++i) refs[i] = {data_[i].data(), &n.inputs[i]};
    std::vector<uint8_t> out(static_cast<size_t>(out_.numel()) * dtype_size(out_.dtype), 0xCD);
    TensorRef o{out.data(), &n.outputs[0]};
    ThreadPool pool(threads);
    kernel.value()->run(refs.data(), &o, nullptr, pool);
    return out;
  }
  NodeInfo node_;
  std::vector<std::vector<uint8_t>> data_;
  TensorDesc out_;
};

using I = std::vector<int64_t>;
using F = std::vector<float>;
using B = std::vector<uint8_t>;
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

TEST(ScalarOps, I64AddMulSubWrapAndBroadcast) {
  TypedOp add(OpKind::kAdd);
  add.in(DType::kI64, {2, 2}, I{1, 2, kMax, -4}).in(DType::kI64, {2}, I{10, 1}).attr_f("alpha", 3);
  EXPECT_EQ(add.run<int64_t>(), (I{31, 5, kMin + 29, -1}));  // kMax + 30 wraps to kMin + 29
  EXPECT_EQ(add.out_desc().to_string(), "i64[2,2]");
  TypedOp mul(OpKind::kMul);
  mul.in(DType::kI64, {}, I{kMax}).in(DType::kI64, {3}, I{2, -1, 0});
  EXPECT_EQ(mul.run<int64_t>(), (I{-2, -kMax, 0}));
  TypedOp sub(OpKind::kSub);
  sub.in(DType::kI64, {3}, I{kMin, 5, 0}).in(DType::kI64, {}, I{1});
  EXPECT_EQ(sub.run<int64_t>(), (I{kMax, 4, -1}));
  TypedOp fsub(OpKind::kSub);
  fsub.in(DType::kF32, {2, 1}, F{1, 2}).in(DType::kF32, {3}, F{0.5f, 1, NAN});
  const F y = fsub.run<float>();
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[4], 1.0f);
  EXPECT_TRUE(std::isnan(y[5]));
}

TEST(ScalarOps, DivTruncatesAndNeverTraps) {
  TypedOp div(OpKind::kDiv);
  div.in(DType::kI64, {6}, I{7, -7, 7, -7, 5, kMin}).in(DType::kI64, {6}, I{2, 2, -2, -2, 0, -1});
  EXPECT_EQ(div.run<int64_t>(), (I{3, -3, -3, 3, 0, kMin}));
  TypedOp fdiv(OpKind::kDiv);
  fdiv.in(DType::kF32, {3}, F{1, -1, 0}).in(DType::kF32, {}, F{0});
  const F y = fdiv.run<float>();
  EXPECT_EQ(y[0], INFINITY);
  EXPECT_EQ(y[1], -INFINITY);
  EXPECT_TRUE(std::isnan(y[2]));
}

TEST(ScalarOps, CompareEveryMode) {
  const F a = {1, 2, NAN}, b = {2, 2, NAN};
  const B expected[6] = {{0, 1, 0}, {1, 0, 1}, {1, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 1, 0}};
  for (int mode = 0; mode < 6; ++mode) {
    TypedOp f(OpKind::kCompare);
    f.in(DType::kF32, {3}, a).in(DType::kF32, {3}, b).attr("mode", mode);
    EXPECT_EQ(f.run<uint8_t>(), expected[mode]) << "mode " << mode;
    EXPECT_EQ(f.out_desc().dtype, DType::kBool);
    TypedOp i(OpKind::kCompare);
    i.in(DType::kI64, {2}, I{1, 2}).in(DType::kI64, {}, I{2}).attr("mode", mode);
    B e(expected[mode].begin(), expected[mode].begin() + 2);
    EXPECT_EQ(i.run<uint8_t>(), e) << "mode " << mode;
  }
  TypedOp bad(OpKind::kCompare);
  bad.in(DType::kF32, {}, F{1}).in(DType::kI64, {}, I{1}).attr("mode", 0);
  EXPECT_ARCHIVE_ERROR(bad.infer(), "must have the same dtype");
  TypedOp bad_mode(OpKind::kCompare);
  bad_mode.in(DType::kF32, {}, F{1}).in(DType::kF32, {}, F{1}).attr("mode", 6);
  EXPECT_ARCHIVE_ERROR(bad_mode.infer(), "attribute 'mode' must be 0..5");
}

TEST(ScalarOps, LogicalAndNot) {
  const B a = {0, 0, 1, 1}, b = {0, 1, 0, 2};  // 2: a non-canonical true byte
  const B expected[3] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
  for (int mode = 0; mode < 3; ++mode) {
    TypedOp op(OpKind::kLogical);
    op.in(DType::kBool, {4}, a).in(DType::kBool, {4}, b).attr("mode", mode);
    EXPECT_EQ(op.run<uint8_t>(), expected[mode]) << "mode " << mode;
  }
  TypedOp bcast(OpKind::kLogical);
  bcast.in(DType::kBool, {2, 1}, B{0, 1}).in(DType::kBool, {2}, B{1, 0}).attr("mode", 0);
  EXPECT_EQ(bcast.run<uint8_t>(), (B{0, 0, 1, 0}));
  TypedOp n(OpKind::kLogicalNot);
  n.in(DType::kBool, {3}, B{0, 1, 5});
  EXPECT_EQ(n.run<uint8_t>(), (B{1, 0, 0}));
  TypedOp bad(OpKind::kLogicalNot);
  bad.in(DType::kF32, {}, F{1});
  EXPECT_ARCHIVE_ERROR(bad.infer(), "input 'x' must be bool, got f32[]");
}

TEST(ScalarOps, SumF32AndI64) {
  TypedOp f(OpKind::kSum);
  f.in(DType::kF32, {2, 3}, F{1, 2, 3, 4, 5, 6}).attr_ints("dims", {1}).attr("keepdim", 1);
  EXPECT_EQ(f.run<float>(), (F{6, 15}));
  EXPECT_EQ(f.out_desc().to_string(), "f32[2,1]");
  TypedOp i(OpKind::kSum);
  i.in(DType::kI64, {2, 2}, I{kMax, 1, 3, 4}).attr_ints("dims", {}).attr("keepdim", 0);
  EXPECT_EQ(i.run<int64_t>(), (I{kMin + 7}));  // wraps
  EXPECT_EQ(i.out_desc().to_string(), "i64[]");
  TypedOp empty(OpKind::kSum);
  empty.in(DType::kF32, {0, 2}, F{}).attr_ints("dims", {0}).attr("keepdim", 0);
  EXPECT_EQ(empty.run<float>(), (F{0, 0}));
  TypedOp bad(OpKind::kSum);
  bad.in(DType::kBool, {2}, B{1, 1}).attr_ints("dims", {0}).attr("keepdim", 0);
  EXPECT_ARCHIVE_ERROR(bad.infer(), "must be f32 or i64, got bool[2]");
}

TEST(ScalarOps, CastRules) {
  TypedOp f2i(OpKind::kCast);
  f2i.in(DType::kF32, {6}, F{2.9f, -2.9f, NAN, INFINITY, 1e30f, -9.2233720e18f}).attr("to", 8);
  EXPECT_EQ(f2i.run<int64_t>(), (I{2, -2, kMin, kMin, kMin, kMin}));
  TypedOp f2b(OpKind::kCast);
  f2b.in(DType::kF32, {3}, F{0, -0.0f, NAN}).attr("to", 9);
  EXPECT_EQ(f2b.run<uint8_t>(), (B{0, 0, 1}));
  TypedOp b2f(OpKind::kCast);
  b2f.in(DType::kBool, {3}, B{0, 1, 3}).attr("to", 1);
  EXPECT_EQ(b2f.run<float>(), (F{0, 1, 1}));
  TypedOp i2f(OpKind::kCast);
  i2f.in(DType::kI64, {2}, I{-3, 16777217}).attr("to", 1);
  EXPECT_EQ(i2f.run<float>(), (F{-3, 16777216}));
  TypedOp b2i(OpKind::kCast);
  b2i.in(DType::kBool, {}, B{9}).attr("to", 8);
  EXPECT_EQ(b2i.run<int64_t>(), (I{1}));
  TypedOp bad(OpKind::kCast);
  bad.in(DType::kF32, {}, F{1}).attr("to", 3);
  EXPECT_ARCHIVE_ERROR(bad.infer(), "attribute 'to' must be a dtype code 1 (f32), 8 (i64) or 9 (bool), got 3");
}

TEST(ScalarOps, SizeOfEachDim) {
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    TypedOp s(OpKind::kSize);
    s.in(DType::kBool, {4, 0, 7}, B{}).attr("dim", dim);
    const int64_t dims[3] = {4, 0, 7};
    EXPECT_EQ(s.run<int64_t>(), (I{dims[dim < 0 ? dim + 3 : dim]})) << dim;
    EXPECT_EQ(s.out_desc().to_string(), "i64[]");
  }
  TypedOp bad(OpKind::kSize);
  bad.in(DType::kF32, {2}, F{1, 2}).attr("dim", 1);
  EXPECT_ARCHIVE_ERROR(bad.infer(), "attribute 'dim' = 1 is out of range for rank 1");
}

TEST(ScalarOps, I64AddRejectsFractionalAlphaAndEpilogue) {
  TypedOp frac(OpKind::kAdd);
  frac.in(DType::kI64, {}, I{1}).in(DType::kI64, {}, I{1}).attr_f("alpha", 0.5);
  EXPECT_ARCHIVE_ERROR(frac.infer(), "must be a whole number for i64 inputs");
  TypedOp act(OpKind::kAdd);
  act.in(DType::kI64, {}, I{1}).in(DType::kI64, {}, I{1}).attr_f("alpha", 1).attr_f("act_min", 0);
  EXPECT_ARCHIVE_ERROR(act.infer(), "only allowed on f32 inputs");
  TypedOp mixed(OpKind::kMul);
  mixed.in(DType::kI64, {}, I{1}).in(DType::kF32, {}, F{1});
  EXPECT_ARCHIVE_ERROR(mixed.infer(), "must have the same dtype");
}

}  // namespace
}  // namespace deployrt
