// TensorDesc and NodeInfo helpers declared in ops/op.h: descriptor comparison and
// printing, error messages that name the op/node/source, and typed attribute access.
#include <string>

#include "ops/op.h"

namespace deployrt {

namespace {

const char* attr_type_name(AttrType type) {
  switch (type) {
    case AttrType::kInt: return "INT";
    case AttrType::kFloat: return "FLOAT";
    case AttrType::kInts: return "INTS";
    case AttrType::kFloats: return "FLOATS";
    case AttrType::kString: return "STRING";
    case AttrType::kGraph: return "GRAPH";
  }
  return "unknown";
}

// Finds `name` and checks its type; the error names the attribute, expected and actual type.
Status find_typed(const NodeInfo& node, std::string_view name, AttrType expected, const Attr** out) {
  const Attr* attr = node.find(name);
  if (attr == nullptr) {
    return node.error("missing attribute '" + std::string(name) + "' (expected " +
                      attr_type_name(expected) + ")");
  }
  if (attr->type != expected) {
    return node.error("attribute '" + std::string(name) + "' has type " + attr_type_name(attr->type) +
                      ", expected " + attr_type_name(expected));
  }
  *out = attr;
  return Status::Ok();
}

}  // namespace

bool TensorDesc::same_as(const TensorDesc& o) const {
  if (dtype != o.dtype || rank != o.rank) return false;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] != o.dims[i]) return false;
  }
  return true;
}

bool TensorDesc::fits(const TensorDesc& pattern) const {
  if (dtype != pattern.dtype || rank != pattern.rank) return false;
  for (int i = 0; i < rank; ++i) {
    if (pattern.dims[i] >= 0 && dims[i] != pattern.dims[i]) return false;
  }
  return true;
}

std::string TensorDesc::to_string() const {
  std::string s = dtype_name(dtype);
  s += '[';
  // Clamp so a corrupt rank can never read past dims.
  const int shown = rank < 0 ? 0 : (rank > kMaxRank ? kMaxRank : rank);
  for (int i = 0; i < shown; ++i) {
    if (i > 0) s += ',';
    s += std::to_string(dims[i]);
  }
  s += ']';
  return s;
}

const Attr* NodeInfo::find(std::string_view attr_name) const {
  for (const Attr& attr : attrs) {
    if (attr.name == attr_name) {
      attr.read = true;
      return &attr;
    }
  }
  return nullptr;
}

Status NodeInfo::error(const std::string& message) const {
  std::string prefix = op_name(static_cast<uint32_t>(op));
  if (!name.empty()) prefix += " '" + name + "'";
  if (!source.empty()) prefix += " (" + source + ")";
  return Status(ErrorCode::kArchive, prefix + ": " + message);
}

Status NodeInfo::get_int(std::string_view attr_name, int64_t* out) const {
  const Attr* attr = nullptr;
  Status st = find_typed(*this, attr_name, AttrType::kInt, &attr);
  if (!st.ok()) return st;
  *out = attr->i;
  return Status::Ok();
}

Status NodeInfo::get_float(std::string_view attr_name, double* out) const {
  const Attr* attr = nullptr;
  Status st = find_typed(*this, attr_name, AttrType::kFloat, &attr);
  if (!st.ok()) return st;
  *out = attr->f;
  return Status::Ok();
}

Status NodeInfo::get_ints(std::string_view attr_name, size_t expected_count,
                          std::vector<int64_t>* out) const {
  const Attr* attr = nullptr;
  Status st = find_typed(*this, attr_name, AttrType::kInts, &attr);
  if (!st.ok()) return st;
  if (expected_count != SIZE_MAX && attr->ints.size() != expected_count) {
    return error("attribute '" + std::string(attr_name) + "' has " + std::to_string(attr->ints.size()) +
                 " values, expected " + std::to_string(expected_count));
  }
  *out = attr->ints;
  return Status::Ok();
}

Status NodeInfo::get_graph(std::string_view attr_name, uint32_t* out) const {
  const Attr* attr = nullptr;
  Status st = find_typed(*this, attr_name, AttrType::kGraph, &attr);
  if (!st.ok()) return st;
  *out = static_cast<uint32_t>(attr->i);
  return Status::Ok();
}

}  // namespace deployrt
