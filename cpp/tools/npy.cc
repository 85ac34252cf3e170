#include "npy.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace npy {
namespace {

using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::Status;

const char kMagic[] = "\x93NUMPY";

struct DescrName {
  DType dtype;
  const char* descr;  // little-endian or byte-order-free spelling
};
const DescrName kDescrs[] = {{DType::kF32, "f4"}, {DType::kF16, "f2"}, {DType::kF64, "f8"}, {DType::kI8, "i1"},
                             {DType::kU8, "u1"},  {DType::kI16, "i2"}, {DType::kI32, "i4"}, {DType::kI64, "i8"},
                             {DType::kBool, "b1"}};

Status bad(const std::string& path, const std::string& why) {
  return Status(ErrorCode::kInput, path + ": " + why);
}

// Value text of `key` in the header dict: from after "'key':" up to the next top-level ',' or '}'.
bool find_field(const std::string& header, const std::string& key, std::string* value) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return false;
  at = header.find(':', at);
  if (at == std::string::npos) return false;
  ++at;
  int depth = 0;
  size_t end = at;
  for (; end < header.size(); ++end) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    if (depth < 0) return false;
  }
  *value = header.substr(at, end - at);
  size_t b = value->find_first_not_of(" "), e = value->find_last_not_of(" ");
  *value = b == std::string::npos ? "" : value->substr(b, e - b + 1);
  return true;
}

}  // namespace

deployrt::Result<deployrt::Tensor> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kIo, "cannot open '" + path + "'");
  char magic[6];
  unsigned char version[2];
  if (!in.read(magic, 6) || std::memcmp(magic, kMagic, 6) != 0) return bad(path, "not a .npy file (bad magic)");
  if (!in.read(reinterpret_cast<char*>(version), 2)) return bad(path, "truncated .npy preamble");
  uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) return bad(path, "truncated .npy preamble");
    header_len = b[0] | (b[1] << 8);
  } else if (version[0] == 2 || version[0] == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) return bad(path, "truncated .npy preamble");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
    if (header_len > (1u << 20)) return bad(path, "header of " + std::to_string(header_len) + " bytes is implausible");
  } else {
    return bad(path, "unsupported .npy version " + std::to_string(version[0]) + "." + std::to_string(version[1]));
  }
  std::string header(header_len, '\0');
  if (!in.read(&header[0], header_len)) return bad(path, "truncated .npy header");

  std::string descr, fortran, shape_text;
  if (!find_field(header, "descr", &descr) || !find_field(header, "fortran_order", &fortran) ||
      !find_field(header, "shape", &shape_text)) {
    return bad(path, "header lacks descr, fortran_order or shape: " + header);
  }
  if (fortran != "False") return bad(path, "Fortran-order arrays are not supported; save with np.ascontiguousarray");
  if (descr.size() != 5 || (descr[0] != '\'' && descr[0] != '"')) return bad(path, "unsupported dtype " + descr);
  const char order = descr[1];
  const std::string code = descr.substr(2, 2);
  if (order == '>') return bad(path, "big-endian dtype " + descr + " is not supported");
  DType dtype = DType::kInvalid;
  for (const DescrName& d : kDescrs) {
    if (code == d.descr) dtype = d.dtype;
  }
  if (dtype == DType::kInvalid || (order != '<' && order != '|' && order != '=')) {
    return bad(path, "unsupported dtype " + descr);
  }
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    return bad(path, "malformed shape " + shape_text);
  }
  std::vector<int64_t> shape;
  std::stringstream dims(shape_text.substr(1, shape_text.size() - 2));
  std::string item;
  int64_t numel = 1;
  while (std::getline(dims, item, ',')) {
    size_t b = item.find_first_not_of(" ");
    if (b == std::string::npos) continue;  // "(3,)" has an empty last item
    char* end = nullptr;
    long long v = std::strtoll(item.c_str() + b, &end, 10);
    if (v < 0 || (*end != '\0' && *end != ' ') || __builtin_mul_overflow(numel, v, &numel)) {
      return bad(path, "malformed shape " + shape_text);
    }
    shape.push_back(v);
  }
  uint64_t nbytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), deployrt::dtype_size(dtype), &nbytes)) {
    return bad(path, "shape " + shape_text + " is too large");
  }
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  const uint64_t data_at = (version[0] == 1 ? 10u : 12u) + header_len;
  if (file_size - data_at != nbytes) {
    return bad(path, "data is " + std::to_string(file_size - data_at) + " bytes, shape " + shape_text + " needs " +
                         std::to_string(nbytes));
  }
  deployrt::Tensor t = deployrt::Tensor::empty(dtype, shape);
  in.seekg(static_cast<std::streamoff>(data_at));
  if (nbytes > 0 && !in.read(static_cast<char*>(t.data()), static_cast<std::streamsize>(nbytes))) {
    return Status(ErrorCode::kIo, "cannot read the data of '" + path + "'");
  }
  return t;
}

Status write(const std::string& path, const deployrt::Tensor& tensor) {
  const char* code = nullptr;
  for (const DescrName& d : kDescrs) {
    if (d.dtype == tensor.dtype()) code = d.descr;
  }
  if (code == nullptr) return Status(ErrorCode::kInput, path + ": cannot write dtype " + deployrt::dtype_name(tensor.dtype()));
  const char order = deployrt::dtype_size(tensor.dtype()) == 1 ? '|' : '<';
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) shape += std::to_string(tensor.shape()[i]) + ",";
  if (tensor.shape().size() > 1) shape.pop_back();  // "(3,)" keeps its comma, "(2,3)" does not
  shape += ")";
  std::string header = std::string("{'descr': '") + order + code + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so the data starts at a multiple of 64 (as NumPy does), ending with '\n'.
  const bool v2 = header.size() + 11 > 65535;
  const size_t preamble = v2 ? 12 : 10;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status(ErrorCode::kIo, "cannot create '" + path + "'");
  out.write(kMagic, 6);
  const char version[2] = {static_cast<char>(v2 ? 2 : 1), 0};
  out.write(version, 2);
  const uint32_t len = static_cast<uint32_t>(header.size());
  const char len_bytes[4] = {char(len & 0xFF), char((len >> 8) & 0xFF), char((len >> 16) & 0xFF), char(len >> 24)};
  out.write(len_bytes, v2 ? 4 : 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.nbytes()));
  if (!out) return Status(ErrorCode::kIo, "cannot write '" + path + "'");
  return Status::Ok();
}

}  // namespace npy
