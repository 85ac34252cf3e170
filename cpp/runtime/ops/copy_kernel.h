// The kernel of the ops that only change a tensor's shape (flatten, reshape): the bytes
// are already in the right order, so running one is a contiguous copy.
#pragma once

#include <memory>

#include "kernels/reference/copy_ref.h"
#include "ops/op.h"
#include "ops/parallel.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

class ContiguousCopyKernel final : public OpKernel {
 public:
  void run(const TensorRef* inputs, TensorRef* outputs, void* /*workspace*/, ThreadPool& pool) const override {
    const float* x = inputs[0].as<const float>();
    float* y = outputs[0].as<float>();
    pool.parallel_for(
        inputs[0].desc->numel(), [&](int64_t begin, int64_t end) { f32_copy_ref(x, y, begin, end); },
        kMinChunkWork * 4);
  }
};

inline Result<std::unique_ptr<OpKernel>> create_contiguous_copy(const NodeInfo& /*node*/) {
  return std::unique_ptr<OpKernel>(new ContiguousCopyKernel());
}

}  // namespace deployrt
