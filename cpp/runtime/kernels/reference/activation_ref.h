// Scalar reference element-wise activations (f32) over [begin, end) of a flat buffer.
// NaN propagates as in PyTorch: relu(NaN) = hardtanh(NaN) = sigmoid(NaN) = NaN.
#pragma once

#include <cstdint>

namespace deployrt {

/// y = max(x, 0), keeping NaN.
void f32_relu_ref(const float* x, float* y, int64_t begin, int64_t end);
/// y = clamp(x, min_value, max_value), keeping NaN.
void f32_hardtanh_ref(const float* x, float* y, float min_value, float max_value, int64_t begin,
                      int64_t end);
/// y = 1 / (1 + exp(-x)).
void f32_sigmoid_ref(const float* x, float* y, int64_t begin, int64_t end);

}  // namespace deployrt
