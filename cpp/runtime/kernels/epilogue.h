// The fused epilogue every conv2d / linear / add kernel applies to its result before the
// store (docs/ops.md "Fused epilogues"): y = clamp(acc + bias + residual, min, max).
// Shared by the reference kernels (the oracle) and the optimized ones.
#pragma once

#include <limits>

namespace deployrt {

/// Output clamp; the defaults clamp nothing. min <= max and neither is NaN (the op checks).
struct Activation {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  bool is_identity() const {
    return min == -std::numeric_limits<float>::infinity() && max == std::numeric_limits<float>::infinity();
  }
};

/// clamp keeping NaN: both comparisons are false for NaN, so it passes through as in F.relu.
inline float clamp_keep_nan(float v, float min, float max) { return v < min ? min : (v > max ? max : v); }

}  // namespace deployrt
