// Scalar reference fully connected layer (f32): y[m, o] = bias[o] + dot(x[m, :], w[o, :]).
#pragma once

#include <cstdint>

#include "kernels/epilogue.h"

namespace deployrt {

/// Computes outputs [begin, end) of the flat [rows, out_features] output, where output
/// index i is (m = i / out_features, o = i % out_features).
/// x [rows, in_features]; weight [out_features, in_features]; bias [out_features] or null;
/// residual [rows, out_features] or null. y = clamp(x.w + bias + residual, act.min, act.max).
void f32_linear_ref(const float* x, const float* weight, const float* bias, const float* residual, Activation act,
                    float* y, int64_t in_features, int64_t out_features, int64_t begin, int64_t end);

}  // namespace deployrt
