#include "kernels/reference/scalar_ops_ref.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/reference/broadcast_walk.h"

namespace deployrt {

namespace {

// Two's-complement wrap-around without signed overflow.
inline int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
inline int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
inline int64_t safe_div(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return wrap_sub(0, a);  // INT64_MIN / -1 overflows: wraps to INT64_MIN
  return a / b;                        // C++ truncates toward zero
}

template <class T>
void compare_rows(CompareMode mode, const BroadcastPlan& plan, const T* a, const T* b, uint8_t* y, int64_t begin,
                  int64_t end) {
  auto run = [&](auto cmp) {
    broadcast_for_each_row(plan, a, b, y, begin, end, [cmp](T u, T v) { return static_cast<uint8_t>(cmp(u, v)); });
  };
  switch (mode) {
    case CompareMode::kEq: run([](T u, T v) { return u == v; }); break;
    case CompareMode::kNe: run([](T u, T v) { return u != v; }); break;
    case CompareMode::kLt: run([](T u, T v) { return u < v; }); break;
    case CompareMode::kLe: run([](T u, T v) { return u <= v; }); break;
    case CompareMode::kGt: run([](T u, T v) { return u > v; }); break;
    case CompareMode::kGe: run([](T u, T v) { return u >= v; }); break;
  }
}

int64_t f32_to_i64(float v) {
  // 2^63 is exactly representable as a float; anything at or beyond it (and NaN) is out of range.
  constexpr float kTwo63 = 9223372036854775808.0f;
  if (!(v >= -kTwo63 && v < kTwo63)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);  // truncates toward zero
}

template <class From>
void cast_from(const From* x, DType to, void* y, int64_t n) {
  switch (to) {
    case DType::kF32: {
      float* out = static_cast<float*>(y);
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i]);
      break;
    }
    case DType::kI64: {
      int64_t* out = static_cast<int64_t*>(y);
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same<From, float>::value) {
          out[i] = f32_to_i64(x[i]);
        } else {
          out[i] = static_cast<int64_t>(x[i]);
        }
      }
      break;
    }
    case DType::kBool: {
      uint8_t* out = static_cast<uint8_t*>(y);
      for (int64_t i = 0; i < n; ++i) out[i] = x[i] != 0 ? 1 : 0;
      break;
    }
    default: break;  // cast's infer() admits only the three dtypes above
  }
}

}  // namespace

void i64_arith_ref(ArithOp op, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, int64_t alpha,
                   int64_t* y, int64_t row_begin, int64_t row_end) {
  switch (op) {
    case ArithOp::kAdd:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end,
                             [alpha](int64_t u, int64_t v) { return wrap_add(u, wrap_mul(alpha, v)); });
      break;
    case ArithOp::kSub:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](int64_t u, int64_t v) { return wrap_sub(u, v); });
      break;
    case ArithOp::kMul:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](int64_t u, int64_t v) { return wrap_mul(u, v); });
      break;
    case ArithOp::kDiv:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](int64_t u, int64_t v) { return safe_div(u, v); });
      break;
  }
}

void f32_arith_ref(ArithOp op, const BroadcastPlan& plan, const float* a, const float* b, float* y,
                   int64_t row_begin, int64_t row_end) {
  switch (op) {
    case ArithOp::kAdd:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u + v; });
      break;
    case ArithOp::kSub:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u - v; });
      break;
    case ArithOp::kMul:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u * v; });
      break;
    case ArithOp::kDiv:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end, [](float u, float v) { return u / v; });
      break;
  }
}

void f32_compare_ref(CompareMode mode, const BroadcastPlan& plan, const float* a, const float* b, uint8_t* y,
                     int64_t row_begin, int64_t row_end) {
  compare_rows<float>(mode, plan, a, b, y, row_begin, row_end);
}

void i64_compare_ref(CompareMode mode, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, uint8_t* y,
                     int64_t row_begin, int64_t row_end) {
  compare_rows<int64_t>(mode, plan, a, b, y, row_begin, row_end);
}

void bool_logical_ref(LogicalMode mode, const BroadcastPlan& plan, const uint8_t* a, const uint8_t* b, uint8_t* y,
                      int64_t row_begin, int64_t row_end) {
  switch (mode) {
    case LogicalMode::kAnd:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end,
                             [](uint8_t u, uint8_t v) { return static_cast<uint8_t>(u != 0 && v != 0); });
      break;
    case LogicalMode::kOr:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end,
                             [](uint8_t u, uint8_t v) { return static_cast<uint8_t>(u != 0 || v != 0); });
      break;
    case LogicalMode::kXor:
      broadcast_for_each_row(plan, a, b, y, row_begin, row_end,
                             [](uint8_t u, uint8_t v) { return static_cast<uint8_t>((u != 0) != (v != 0)); });
      break;
  }
}

void bool_not_ref(const uint8_t* x, uint8_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] == 0 ? 1 : 0;
}

void cast_ref(DType from, DType to, const void* x, void* y, int64_t n) {
  switch (from) {
    case DType::kF32: cast_from(static_cast<const float*>(x), to, y, n); break;
    case DType::kI64: cast_from(static_cast<const int64_t*>(x), to, y, n); break;
    case DType::kBool: {
      // Normalize to 0/1 first, so a non-canonical bool byte still converts as true.
      const uint8_t* b = static_cast<const uint8_t*>(x);
      if (to == DType::kBool) {
        uint8_t* out = static_cast<uint8_t*>(y);
        for (int64_t i = 0; i < n; ++i) out[i] = b[i] != 0 ? 1 : 0;
      } else if (to == DType::kF32) {
        float* out = static_cast<float*>(y);
        for (int64_t i = 0; i < n; ++i) out[i] = b[i] != 0 ? 1.0f : 0.0f;
      } else if (to == DType::kI64) {
        int64_t* out = static_cast<int64_t*>(y);
        for (int64_t i = 0; i < n; ++i) out[i] = b[i] != 0 ? 1 : 0;
      }
      break;
    }
    default: break;
  }
}

}  // namespace deployrt
