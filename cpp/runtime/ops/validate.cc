#include "ops/validate.h"

#include <string>

namespace deployrt {

std::string ints_to_string(const std::vector<int64_t>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(values[i]);
  }
  return s + "]";
}

Status check_input_count(const NodeInfo& node, int min_inputs, int max_inputs) {
  const size_t count = node.inputs.size();
  if (count < static_cast<size_t>(min_inputs) ||
      (max_inputs >= 0 && count > static_cast<size_t>(max_inputs))) {
    std::string expected = max_inputs < 0 ? "at least " + std::to_string(min_inputs)
                           : min_inputs == max_inputs
                               ? std::to_string(min_inputs)
                               : std::to_string(min_inputs) + " to " + std::to_string(max_inputs);
    return node.error("has " + std::to_string(count) + " inputs, expected " + expected);
  }
  if (node.present.size() != count) {
    return node.error("has " + std::to_string(node.present.size()) + " presence flags for " +
                      std::to_string(count) + " inputs");
  }
  for (int i = 0; i < min_inputs; ++i) {
    if (!node.present[i]) return node.error("required input " + std::to_string(i) + " is absent");
  }
  return Status::Ok();
}

bool input_present(const NodeInfo& node, size_t index) {
  return index < node.inputs.size() && index < node.present.size() && node.present[index];
}

std::string dtypes_to_string(std::initializer_list<DType> dtypes) {
  std::string s;
  for (DType t : dtypes) {
    if (!s.empty()) s += " or ";
    s += dtype_name(t);
  }
  return s;
}

Status check_dtype_and_dims(const NodeInfo& node, size_t index, const char* role, std::initializer_list<DType> dtypes) {
  const TensorDesc& d = node.inputs[index];
  bool allowed = false;
  for (DType t : dtypes) allowed = allowed || d.dtype == t;
  if (!allowed) {
    return node.error(std::string("input '") + role + "' must be " + dtypes_to_string(dtypes) + ", got " + d.to_string());
  }
  if (d.rank < 0 || d.rank > kMaxRank) {
    return node.error(std::string("input '") + role + "' has rank " + std::to_string(d.rank) +
                      ", expected 0.." + std::to_string(kMaxRank));
  }
  int64_t numel = 1;
  for (int i = 0; i < d.rank; ++i) {
    if (d.dims[i] < 0 || !checked_mul(numel, d.dims[i], &numel)) {
      return node.error(std::string("input '") + role + "' has invalid dims " + d.to_string());
    }
  }
  return Status::Ok();
}

Status check_f32_input(const NodeInfo& node, size_t index, const char* role, int rank) {
  return check_input(node, index, role, {DType::kF32}, rank);
}

Status check_input(const NodeInfo& node, size_t index, const char* role, std::initializer_list<DType> dtypes,
                   int rank) {
  if (!input_present(node, index)) return node.error(std::string("input '") + role + "' is absent");
  Status st = check_dtype_and_dims(node, index, role, dtypes);
  if (!st.ok()) return st;
  const TensorDesc& d = node.inputs[index];
  if (rank >= 0 && d.rank != rank) {
    return node.error(std::string("input '") + role + "' must have rank " + std::to_string(rank) +
                      ", got " + d.to_string());
  }
  return Status::Ok();
}

Status check_f32_input_min_rank(const NodeInfo& node, size_t index, const char* role, int min_rank) {
  Status st = check_f32_input(node, index, role, -1);
  if (!st.ok()) return st;
  const TensorDesc& d = node.inputs[index];
  if (d.rank < min_rank) {
    return node.error(std::string("input '") + role + "' must have rank >= " + std::to_string(min_rank) +
                      ", got " + d.to_string());
  }
  return Status::Ok();
}

Status check_optional_vector(const NodeInfo& node, size_t index, const char* role, int64_t channels) {
  if (!input_present(node, index)) return Status::Ok();
  Status st = check_f32_input(node, index, role, 1);
  if (!st.ok()) return st;
  if (node.inputs[index].dims[0] != channels) {
    return node.error(std::string("input '") + role + "' must be f32[" + std::to_string(channels) +
                      "], got " + node.inputs[index].to_string());
  }
  return Status::Ok();
}

Status make_f32_desc(const NodeInfo& node, const std::vector<int64_t>& dims, TensorDesc* out) {
  return make_desc(node, DType::kF32, dims, out);
}

Status make_desc(const NodeInfo& node, DType dtype, const std::vector<int64_t>& dims, TensorDesc* out) {
  if (dims.size() > static_cast<size_t>(kMaxRank)) {
    return node.error("output rank " + std::to_string(dims.size()) + " exceeds the maximum " +
                      std::to_string(kMaxRank));
  }
  TensorDesc d;
  d.dtype = dtype;
  d.rank = static_cast<int>(dims.size());
  int64_t numel = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0 || !checked_mul(numel, dims[i], &numel)) {
      return node.error("output shape " + ints_to_string(dims) + " is invalid or overflows int64");
    }
    d.dims[i] = dims[i];
  }
  // numel * element size must fit too: the planner multiplies by it.
  int64_t bytes = 0;
  if (!checked_mul(numel, static_cast<int64_t>(dtype_size(dtype)), &bytes)) {
    return node.error("output shape " + ints_to_string(dims) + " has too many bytes");
  }
  *out = d;
  return Status::Ok();
}

Status get_bool(const NodeInfo& node, const char* name, bool* out) {
  int64_t v = 0;
  Status st = node.get_int(name, &v);
  if (!st.ok()) return st;
  if (v != 0 && v != 1) {
    return node.error(std::string("attribute '") + name + "' must be 0 or 1, got " + std::to_string(v));
  }
  *out = v == 1;
  return Status::Ok();
}

Status get_ints_at_least(const NodeInfo& node, const char* name, size_t count, int64_t min_value,
                         std::vector<int64_t>* out) {
  Status st = node.get_ints(name, count, out);
  if (!st.ok()) return st;
  for (int64_t v : *out) {
    if (v < min_value) {
      return node.error(std::string("attribute '") + name + "' must have values >= " +
                        std::to_string(min_value) + ", got " + ints_to_string(*out));
    }
  }
  return Status::Ok();
}

Status get_axis(const NodeInfo& node, const char* name, int rank, int* out) {
  int64_t v = 0;
  Status st = node.get_int(name, &v);
  if (!st.ok()) return st;
  if (v < 0 || v >= rank) {
    return node.error(std::string("attribute '") + name + "' = " + std::to_string(v) +
                      " is out of range for rank " + std::to_string(rank) + " (expected 0.." +
                      std::to_string(rank - 1) + ")");
  }
  *out = static_cast<int>(v);
  return Status::Ok();
}

const float* constant_f32(const NodeInfo& node, size_t index) {
  if (index >= node.constant_data.size()) return nullptr;
  return static_cast<const float*>(node.constant_data[index]);
}

}  // namespace deployrt
