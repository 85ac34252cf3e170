// Tensor storage: owned (64-byte aligned, shared between copies) or wrapped caller memory.
#include "core/aligned_alloc.h"
#include "deployrt/deployrt.h"

namespace deployrt {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

Tensor Tensor::empty(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  size_t bytes = t.nbytes();
  void* p = aligned_malloc_or_null(bytes);
  if (p == nullptr) throw std::bad_alloc();  // like any allocating std:: container
  t.storage_ = std::shared_ptr<void>(p, AlignedFree());
  t.data_ = p;
  return t;
}

Tensor Tensor::wrap(void* data, DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.data_ = data;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

}  // namespace deployrt
