// Scalar reference kernels of the control-flow support ops (docs/ops.md codes 4, 12, 19-25
// on i64 and bool): plain loops, since these ops run on scalars and small tensors.
// Integer arithmetic wraps modulo 2^64 (as PyTorch's int64 does) instead of being
// undefined on overflow; bool elements are bytes, read as true when non-zero.
#pragma once

#include <cstdint>

#include "kernels/reference/binary_ref.h"

namespace deployrt {

/// Binary arithmetic of add (alpha), sub, mul, div on i64 and sub, div on f32.
enum class ArithOp { kAdd, kSub, kMul, kDiv };
/// Comparison modes of `compare` (attribute `mode`).
enum class CompareMode { kEq = 0, kNe = 1, kLt = 2, kLe = 3, kGt = 4, kGe = 5 };
/// Modes of `logical` (attribute `mode`).
enum class LogicalMode { kAnd = 0, kOr = 1, kXor = 2 };

/// y = a op b (for kAdd: a + alpha * b) over output rows [row_begin, row_end), wrapping.
/// Division truncates toward zero; x / 0 gives 0 and INT64_MIN / -1 gives INT64_MIN
/// (defined results where C++ would trap, docs/ops.md `div`).
void i64_arith_ref(ArithOp op, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, int64_t alpha,
                   int64_t* y, int64_t row_begin, int64_t row_end);
/// y = a - b or a / b (IEEE) over output rows [row_begin, row_end).
void f32_arith_ref(ArithOp op, const BroadcastPlan& plan, const float* a, const float* b, float* y,
                   int64_t row_begin, int64_t row_end);

/// y = (a <mode> b) as bool bytes 0/1. NaN compares unequal to everything (ne is true).
void f32_compare_ref(CompareMode mode, const BroadcastPlan& plan, const float* a, const float* b, uint8_t* y,
                     int64_t row_begin, int64_t row_end);
void i64_compare_ref(CompareMode mode, const BroadcastPlan& plan, const int64_t* a, const int64_t* b, uint8_t* y,
                     int64_t row_begin, int64_t row_end);

/// y = a <mode> b on bools.
void bool_logical_ref(LogicalMode mode, const BroadcastPlan& plan, const uint8_t* a, const uint8_t* b, uint8_t* y,
                      int64_t row_begin, int64_t row_end);
/// y = !x for n elements.
void bool_not_ref(const uint8_t* x, uint8_t* y, int64_t n);

/// Converts n elements between f32, i64 and bool (cast, code 25). f32 -> i64 truncates
/// toward zero; NaN and values outside the i64 range give INT64_MIN (what PyTorch gives on
/// x86-64). Anything -> bool is x != 0 (NaN is true); bool -> number is 0 or 1.
void cast_ref(DType from, DType to, const void* x, void* y, int64_t n);

}  // namespace deployrt
