#include "ops/activation_attrs.h"

#include <cfloat>
#include <cmath>
#include <string>

#include "ops/validate.h"

namespace deployrt {

namespace {

Status read_optional_bound(const NodeInfo& node, const char* name, double fallback, double* out) {
  *out = fallback;
  if (node.find(name) == nullptr) return Status::Ok();
  Status st = node.get_float(name, out);  // errors on a mistyped attribute
  if (!st.ok()) return st;
  if (std::isnan(*out)) return node.error(std::string("attribute '") + name + "' must not be NaN");
  return Status::Ok();
}

// Bounds beyond the f32 range become +-inf, which clamps every f32 exactly as the double
// bound would (and avoids an out-of-range double -> float conversion).
float to_f32_bound(double v) {
  if (v > FLT_MAX) return INFINITY;
  if (v < -FLT_MAX) return -INFINITY;
  return static_cast<float>(v);
}

}  // namespace

Status read_activation_attrs(const NodeInfo& node, Activation* out) {
  double lo = 0.0, hi = 0.0;
  Status st = read_optional_bound(node, "act_min", -INFINITY, &lo);
  if (st.ok()) st = read_optional_bound(node, "act_max", INFINITY, &hi);
  if (!st.ok()) return st;
  if (lo > hi) {
    return node.error("attribute 'act_min' (" + std::to_string(lo) + ") must be <= 'act_max' (" +
                      std::to_string(hi) + ")");
  }
  out->min = to_f32_bound(lo);
  out->max = to_f32_bound(hi);
  return Status::Ok();
}

Status check_optional_residual(const NodeInfo& node, size_t index, const TensorDesc& output) {
  if (!input_present(node, index)) return Status::Ok();
  const TensorDesc& r = node.inputs[index];
  if (!r.same_as(output)) {
    return node.error("input 'residual' " + r.to_string() + " must match the output " + output.to_string());
  }
  return Status::Ok();
}

}  // namespace deployrt
