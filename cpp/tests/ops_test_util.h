// Test helpers for ops: build a NodeInfo, run OpDef::infer + create, and run the kernel on
// real ThreadPools (1 and 2 threads), checking both give bit-identical results.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ops/op.h"
#include "ops/weight_cache.h"
#include "threadpool/thread_pool.h"

namespace deployrt {
namespace testing {

inline TensorDesc typed_desc(DType dtype, const std::vector<int64_t>& shape) {
  TensorDesc d;
  d.dtype = dtype;
  d.rank = static_cast<int>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) d.dims[i] = shape[i];
  return d;
}

inline TensorDesc f32_desc(const std::vector<int64_t>& shape) { return typed_desc(DType::kF32, shape); }

inline Attr named_attr(const std::string& name, AttrType type) {
  Attr a;
  a.name = name;
  a.type = type;
  return a;
}
inline Attr int_attr(const std::string& name, int64_t v) {
  Attr a = named_attr(name, AttrType::kInt);
  a.i = v;
  return a;
}
inline Attr float_attr(const std::string& name, double v) {
  Attr a = named_attr(name, AttrType::kFloat);
  a.f = v;
  return a;
}
inline Attr ints_attr(const std::string& name, std::vector<int64_t> v) {
  Attr a = named_attr(name, AttrType::kInts);
  a.ints = std::move(v);
  return a;
}

inline int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

/// Deterministic pseudo-random values in [-1, 1).
inline std::vector<float> random_values(int64_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = dist(gen);
  return v;
}

/// One op node under test. Inputs own their data; constant inputs are also exposed through
/// NodeInfo::constant_data, as the graph builder does for weights.
class OpTester {
 public:
  explicit OpTester(OpKind op) { node_.op = op; }

  OpTester& input(const std::vector<int64_t>& shape, std::vector<float> data, bool constant = false) {
    EXPECT_EQ(static_cast<int64_t>(data.size()), numel_of(shape)) << "test data size for input " << data_.size();
    node_.inputs.push_back(f32_desc(shape));
    node_.present.push_back(true);
    data_.push_back(std::move(data));
    constant_.push_back(constant);
    return *this;
  }
  OpTester& constant(const std::vector<int64_t>& shape, std::vector<float> data) {
    return input(shape, std::move(data), true);
  }
  /// An input of the given shape, filled with deterministic random values.
  OpTester& random_input(const std::vector<int64_t>& shape, uint32_t seed, bool constant = false) {
    return input(shape, random_values(numel_of(shape), seed), constant);
  }
  /// An input slot with an arbitrary descriptor and no data (for validation tests).
  OpTester& input_desc(const TensorDesc& desc) {
    node_.inputs.push_back(desc);
    node_.present.push_back(true);
    data_.emplace_back();
    constant_.push_back(false);
    return *this;
  }
  /// An absent optional input (NONE in the archive).
  OpTester& absent() {
    node_.inputs.emplace_back();
    node_.present.push_back(false);
    data_.emplace_back();
    constant_.push_back(false);
    return *this;
  }

  OpTester& attr_int(const std::string& name, int64_t v) {
    node_.attrs.push_back(int_attr(name, v));
    return *this;
  }
  OpTester& attr_float(const std::string& name, double v) {
    node_.attrs.push_back(float_attr(name, v));
    return *this;
  }
  OpTester& attr_ints(const std::string& name, std::vector<int64_t> v) {
    node_.attrs.push_back(ints_attr(name, std::move(v)));
    return *this;
  }
  /// Replaces (or adds) an attribute, to derive negative cases from a valid node.
  OpTester& set_attr(const Attr& attr) {
    remove_attr(attr.name);
    node_.attrs.push_back(attr);
    return *this;
  }
  OpTester& remove_attr(const std::string& name) {
    for (size_t i = 0; i < node_.attrs.size(); ++i) {
      if (node_.attrs[i].name == name) {
        node_.attrs.erase(node_.attrs.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    return *this;
  }
  OpTester& name(const std::string& node_name, const std::string& source) {
    node_.name = node_name;
    node_.source = source;
    return *this;
  }

  /// Runs OpDef::infer on a copy of the node (so a tester can be inferred repeatedly).
  Status infer() {
    const OpDef* def = find_op(static_cast<uint32_t>(node_.op));
    if (def == nullptr) return Status(ErrorCode::kInternal, "no OpDef for the op under test");
    NodeInfo node = prepared_node();
    Status st = def->infer(node);
    if (st.ok()) outputs_ = node.outputs;
    return st;
  }

  /// The inferred output descriptor (after a successful infer()).
  const TensorDesc& output_desc() const { return outputs_.at(0); }
  std::vector<int64_t> output_shape() const {
    const TensorDesc& d = output_desc();
    return std::vector<int64_t>(d.dims, d.dims + d.rank);
  }

  /// infer + create + run on a ThreadPool of `threads`; returns output 0. Test failures
  /// (not crashes) on any error.
  std::vector<float> run_with(int threads) {
    const OpDef* def = find_op(static_cast<uint32_t>(node_.op));
    if (def == nullptr) {
      ADD_FAILURE() << "no OpDef for op " << static_cast<uint32_t>(node_.op);
      return {};
    }
    NodeInfo node = prepared_node();
    Status st = def->infer(node);
    if (!st.ok()) {
      ADD_FAILURE() << "infer failed: " << st.message();
      return {};
    }
    outputs_ = node.outputs;
    // Created as the loader creates ops: with the pool it will run on as the load pool
    // (weights packed over its threads, per-thread workspaces sized for it).
    ThreadPool pool(threads);
    ScopedLoadPool load_pool(&pool);
    Result<std::unique_ptr<OpKernel>> kernel = def->create(node);
    if (!kernel.ok()) {
      ADD_FAILURE() << "create failed: " << kernel.status().message();
      return {};
    }
    // As the executor passes them: slots past the node's own inputs are empty.
    std::vector<TensorRef> in(def->input_slots(node.inputs.size()));
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      in[i].data = node.present[i] && !data_[i].empty() ? data_[i].data() : nullptr;
      in[i].desc = &node.inputs[i];
    }
    std::vector<float> out(static_cast<size_t>(node.outputs[0].numel()));
    TensorRef out_ref{out.data(), &node.outputs[0]};
    // 64-byte aligned workspace, as the executor's arena provides.
    const size_t ws_bytes = kernel.value()->workspace_bytes();
    std::vector<uint8_t> ws(ws_bytes + 64);
    void* ws_ptr = ws.data() + (64 - reinterpret_cast<uintptr_t>(ws.data()) % 64) % 64;
    kernel.value()->run(in.data(), &out_ref, ws_bytes > 0 ? ws_ptr : nullptr, pool);
    return out;
  }

  /// Runs with 1 and with 2 threads, expects bit-identical outputs, returns them.
  std::vector<float> run() {
    std::vector<float> one = run_with(1);
    std::vector<float> two = run_with(2);
    EXPECT_EQ(one.size(), two.size());
    for (size_t i = 0; i < one.size() && i < two.size(); ++i) {
      // memcmp-style equality, so NaN == NaN here.
      if (std::memcmp(&one[i], &two[i], sizeof(float)) != 0) {
        ADD_FAILURE() << "1 vs 2 threads differ at " << i << ": " << one[i] << " vs " << two[i];
        break;
      }
    }
    return one;
  }

  NodeInfo& node() { return node_; }

 private:
  NodeInfo prepared_node() const {
    NodeInfo node = node_;
    node.constant_data.clear();
    for (size_t i = 0; i < data_.size(); ++i) {
      node.constant_data.push_back(constant_[i] && !data_[i].empty() ? data_[i].data() : nullptr);
    }
    return node;
  }

  NodeInfo node_;
  std::vector<std::vector<float>> data_;
  std::vector<bool> constant_;
  std::vector<TensorDesc> outputs_;
};

/// Expects an archive error whose message contains `fragment`.
#define EXPECT_ARCHIVE_ERROR(status_expr, fragment)                                  \
  do {                                                                               \
    const ::deployrt::Status st_ = (status_expr);                                    \
    EXPECT_EQ(st_.code(), ::deployrt::ErrorCode::kArchive) << st_.message();         \
    EXPECT_NE(st_.message().find(fragment), std::string::npos)                       \
        << "message '" << st_.message() << "' lacks '" << (fragment) << "'";         \
  } while (0)

/// Element-wise comparison with an absolute tolerance (NaN must match NaN).
inline void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected, float tol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "at " << i << ": " << actual[i];
    } else {
      EXPECT_NEAR(actual[i], expected[i], tol) << "at " << i;
    }
  }
}

}  // namespace testing
}  // namespace deployrt
