// linear (docs/ops.md code 9): x[..., IN], weight[OUT, IN], [bias[OUT]], [residual] -> y[..., OUT],
// with the fused epilogue attributes act_min / act_max.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/aligned_alloc.h"
#include "cpu/cpu_features.h"
#include "kernels/f32-gemv/gemv.h"
#include "kernels/reference/linear_ref.h"
#include "ops/activation_attrs.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/validate.h"
#include "ops/weight_cache.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

namespace {

enum Input { kX = 0, kWeight = 1, kBias = 2, kResidual = 3 };

Status infer_linear(NodeInfo& node) {
  Status st = check_input_count(node, 2, 4);
  if (st.ok()) st = check_f32_input_min_rank(node, kX, "x", 1);
  if (st.ok()) st = check_f32_input(node, kWeight, "weight", 2);
  if (!st.ok()) return st;
  const TensorDesc& x = node.inputs[kX];
  const TensorDesc& w = node.inputs[kWeight];
  if (w.dims[1] != x.dims[x.rank - 1]) {
    return node.error("weight " + w.to_string() + " must have " + std::to_string(x.dims[x.rank - 1]) +
                      " input features to match x " + x.to_string());
  }
  st = check_optional_vector(node, kBias, "bias", w.dims[0]);
  if (!st.ok()) return st;
  std::vector<int64_t> dims(x.dims, x.dims + x.rank);
  dims.back() = w.dims[0];
  TensorDesc y;
  st = make_f32_desc(node, dims, &y);
  if (st.ok()) st = check_optional_residual(node, kResidual, y);
  Activation act;
  if (st.ok()) st = read_activation_attrs(node, &act);
  if (!st.ok()) return st;
  node.outputs.assign(1, y);
  return Status::Ok();
}

// The reference, for weights that are not constants (nothing to prepack).
class LinearKernel final : public OpKernel {
 public:
  LinearKernel(int64_t in_features, int64_t out_features, Activation act)
      : in_features_(in_features), out_features_(out_features), act_(act) {}

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* w = inputs[kWeight].as<const float>();
    const float* bias = inputs[kBias].as<const float>();  // null when absent (OpDef::input_slots)
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    // One work item = one output element (a dot product of in_features).
    pool.parallel_for(
        outputs[0].desc->numel(),
        [&](int64_t begin, int64_t end) {
          f32_linear_ref(x, w, bias, residual, act_, y, in_features_, out_features_, begin, end);
        },
        grain_for(in_features_));
  }

 private:
  int64_t in_features_, out_features_;
  Activation act_;
};

// Constant weights, packed here once into the GEMV microkernel's column panels
// (kernels/f32-gemv/gemv.h). Work item = (column panel, block of MR rows), panel-major:
// a panel's weights stay in cache while every row block uses them. Each output is one
// whole-K sum, so the result is the same for any thread count.
class LinearGemvKernel final : public OpKernel {
 public:
  LinearGemvKernel(const F32GemvVariant& ukernel, std::shared_ptr<const void> packed, int64_t in_features, int64_t out_features,
                   Activation act)
      : ukernel_(ukernel),
        packed_(std::move(packed)),
        in_features_(in_features),
        out_features_(out_features),
        act_(act) {}

  bool reads_input(size_t k) const override { return k != kWeight; }  // packed at create

  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[kX].as<const float>();
    const float* bias = inputs[kBias].as<const float>();
    const float* residual = inputs[kResidual].as<const float>();
    float* y = outputs[0].as<float>();
    const int64_t rows = outputs[0].desc->numel() / out_features_;
    const int mr = ukernel_.mr, nr = ukernel_.nr;
    const int64_t panels = (out_features_ + nr - 1) / nr;
    const int64_t row_blocks = (rows + mr - 1) / mr;
    const float* w = static_cast<const float*>(packed_.get());
    pool.parallel_for(
        panels * row_blocks,
        [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t) {
            const int64_t j = t / row_blocks, rb = t % row_blocks;
            const int64_t col0 = j * nr, row0 = rb * mr;
            GemvEpilogue ep;
            ep.bias = bias != nullptr ? bias + col0 : nullptr;
            ep.residual = residual != nullptr ? residual + row0 * out_features_ + col0 : nullptr;
            ep.min = act_.min;
            ep.max = act_.max;
            ukernel_.fn(in_features_, x + row0 * in_features_, in_features_, w + j * in_features_ * nr,
                        y + row0 * out_features_ + col0, out_features_, std::min<int64_t>(mr, rows - row0),
                        std::min<int64_t>(nr, out_features_ - col0), ep);
          }
        },
        grain_for(work_product({in_features_, mr, nr})));
  }

 private:
  F32GemvVariant ukernel_;
  std::shared_ptr<const void> packed_;  // possibly shared with other specializations (ops/weight_cache.h)
  int64_t in_features_, out_features_;
  Activation act_;
};

Result<std::unique_ptr<OpKernel>> create_linear(const NodeInfo& node) {
  Activation act;
  Status st = read_activation_attrs(node, &act);
  if (!st.ok()) return st;
  const TensorDesc& w = node.inputs[kWeight];
  const int64_t in_features = w.dims[1], out_features = w.dims[0];
  const float* weights = constant_f32(node, kWeight);
  if (weights != nullptr && in_features > 0 && out_features > 0) {
    const F32GemvVariant& ukernel = f32_gemv_select(isa_level());
    const int64_t floats = f32_gemv_packed_floats(out_features, in_features, ukernel.nr);
    std::shared_ptr<const void> packed =
        packed_weights(node, {weights, kGemvPacking, {ukernel.nr, 0, 0}}, static_cast<size_t>(floats) * sizeof(float), [&] {
      AlignedBuffer buffer(aligned_malloc_or_null(static_cast<size_t>(floats) * sizeof(float)));
      if (buffer) f32_gemv_pack_weights(weights, out_features, in_features, ukernel.nr, static_cast<float*>(buffer.get()));
      return buffer;
    });
    if (!packed) return node.error("out of memory packing weights " + w.to_string());
    return std::unique_ptr<OpKernel>(
        new LinearGemvKernel(ukernel, std::move(packed), in_features, out_features, act));
  }
  return std::unique_ptr<OpKernel>(new LinearKernel(in_features, out_features, act));
}

}  // namespace

const OpDef kLinearOp = {OpKind::kLinear, "linear", 2, 4, 1, infer_linear, create_linear};

}  // namespace deployrt
