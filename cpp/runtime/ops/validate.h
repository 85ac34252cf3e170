// Checks shared by the ops' infer() functions. Every check returns an archive error
// through node.error(), naming the input or attribute, the expected and the actual value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/checked_math.h"  // checked_add / checked_mul, used with these checks
#include "ops/op.h"

namespace deployrt {

/// "[1,2,3]"
std::string ints_to_string(const std::vector<int64_t>& values);

/// The node has between min_inputs and max_inputs (-1: unbounded) input slots, `present`
/// matches `inputs`, and the first min_inputs slots are present.
Status check_input_count(const NodeInfo& node, int min_inputs, int max_inputs);

/// True when optional input `index` exists and is present.
bool input_present(const NodeInfo& node, size_t index);

/// Input `index` (called `role` in messages) is present, f32, has non-negative dims, and
/// has exactly `rank` dims (rank < 0: any rank).
Status check_f32_input(const NodeInfo& node, size_t index, const char* role, int rank);
/// Same for ops that take other dtypes: the input's dtype is one of `dtypes`.
Status check_input(const NodeInfo& node, size_t index, const char* role, std::initializer_list<DType> dtypes,
                   int rank);
/// Input `index` has one of `dtypes`, a valid rank and non-negative dims whose product fits int64.
Status check_dtype_and_dims(const NodeInfo& node, size_t index, const char* role, std::initializer_list<DType> dtypes);
/// "f32 or i64"
std::string dtypes_to_string(std::initializer_list<DType> dtypes);
/// Same as check_f32_input, with at least `min_rank` dims.
Status check_f32_input_min_rank(const NodeInfo& node, size_t index, const char* role, int min_rank);
/// Optional per-channel vector: absent, or f32[channels].
Status check_optional_vector(const NodeInfo& node, size_t index, const char* role, int64_t channels);

/// Builds an f32 descriptor, refusing ranks above kMaxRank, negative dims and numel overflow.
Status make_f32_desc(const NodeInfo& node, const std::vector<int64_t>& dims, TensorDesc* out);

/// make_f32_desc for any dtype (numel x element size must fit int64).
Status make_desc(const NodeInfo& node, DType dtype, const std::vector<int64_t>& dims, TensorDesc* out);

/// INT attribute that must be 0 or 1.
Status get_bool(const NodeInfo& node, const char* name, bool* out);
/// INTS attribute of exactly `count` values (SIZE_MAX: any count), each >= min_value.
Status get_ints_at_least(const NodeInfo& node, const char* name, size_t count, int64_t min_value,
                         std::vector<int64_t>* out);
/// INT attribute holding an axis of a rank-`rank` tensor: 0 <= axis < rank (stored normalized).
Status get_axis(const NodeInfo& node, const char* name, int rank, int* out);

/// Data of input `index` when it is a constant, else null.
const float* constant_f32(const NodeInfo& node, size_t index);

}  // namespace deployrt
