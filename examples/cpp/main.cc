// deployrt_example: run a deploykit archive on an input .npy and save the output .npy.
//
//   deployrt_example model.dkr input.npy output.npy [num_threads]
//
// Prints the model's input/output shapes and, for [N, classes] outputs, the top-5
// class indices of every row. Uses only the public header <deployrt/deployrt.h>.
// The .npy reader/writer below handle exactly what the example needs (little-endian
// f32, C order) and reject everything else with a message instead of guessing.
#include <deployrt/deployrt.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// The value text following `'key':` in a .npy header dict, e.g. "'<f4'" or "(1, 3, 224, 224)".
std::string npy_header_value(const std::string& header, const std::string& key) {
  const size_t key_at = header.find("'" + key + "'");
  const size_t colon = key_at == std::string::npos ? key_at : header.find(':', key_at);
  const size_t begin = colon == std::string::npos ? colon : header.find_first_not_of(' ', colon + 1);
  if (begin == std::string::npos) throw std::runtime_error("npy header has no value for '" + key + "'");
  // A tuple runs to its ')'; any other value to the next ','.
  const size_t end = header[begin] == '(' ? header.find(')', begin) + 1 : header.find(',', begin);
  if (end == std::string::npos || end == 0) throw std::runtime_error("malformed npy header: " + header);
  return header.substr(begin, end - begin);
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) {
    throw std::runtime_error(path + " is not a .npy file");
  }
  // Version 1.x stores a u16 header length; 2.x and 3.x a u32 (all little-endian).
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(len_bytes), magic[6] == 1 ? 2 : 4);
  for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  std::string header(header_len, '\0');
  if (!in.read(&header[0], header_len)) throw std::runtime_error(path + ": truncated npy header");

  if (npy_header_value(header, "descr") != "'<f4'") {
    throw std::runtime_error(path + ": dtype " + npy_header_value(header, "descr") + ", expected '<f4' (float32)");
  }
  if (npy_header_value(header, "fortran_order") != "False") {
    throw std::runtime_error(path + ": Fortran-ordered arrays are not supported; save a C-ordered array");
  }
  NpyArray array;
  std::string dims = npy_header_value(header, "shape");
  for (char& c : dims) {
    if (c == '(' || c == ')' || c == ',') c = ' ';
  }
  std::istringstream dim_stream(dims);
  for (int64_t d; dim_stream >> d;) array.shape.push_back(d);
  int64_t numel = 1;
  for (int64_t d : array.shape) {
    if (d < 0 || (d > 0 && numel > (int64_t{1} << 40) / d)) throw std::runtime_error(path + ": implausible shape");
    numel *= d;
  }
  array.data.resize(static_cast<size_t>(numel));
  if (!in.read(reinterpret_cast<char*>(array.data.data()), numel * 4)) {
    throw std::runtime_error(path + ": fewer data bytes than its shape needs");
  }
  return array;
}

void write_npy(const std::string& path, const deployrt::Tensor& t) {
  std::string shape = "(";
  for (int i = 0; i < t.rank(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape()[i]);
  shape += t.rank() == 1 ? ",)" : ")";  // Python tuple syntax: (5,) and (1, 1000)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  const char prefix[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(prefix, 8);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xFF),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.data()), static_cast<std::streamsize>(t.nbytes()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void print_top5(const deployrt::Tensor& logits) {
  const int64_t rows = logits.shape()[0], classes = logits.shape()[1];
  const float* data = logits.data_as<float>();
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> order(static_cast<size_t>(classes));
    std::iota(order.begin(), order.end(), 0);
    const float* row = data + r * classes;
    size_t k = std::min<size_t>(5, order.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [row](int64_t a, int64_t b) { return row[a] > row[b]; });
    std::cout << "top5[" << r << "]:";
    for (size_t i = 0; i < k; ++i) std::cout << " " << order[i];
    std::cout << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::cerr << "usage: " << argv[0] << " model.dkr input.npy output.npy [num_threads]\n";
    return 2;
  }
  try {
    deployrt::LoadOptions options;
    if (argc == 5) options.num_threads = std::stoi(argv[4]);
    deployrt::Module module = deployrt::Module::load(argv[1], options);
    for (const auto& info : module.inputs()) {
      std::cout << "input  " << info.name << ": " << deployrt::dtype_name(info.dtype) << " "
                << shape_string(info.shape) << "\n";
    }

    NpyArray input = read_npy(argv[2]);
    // Shape and dtype are checked by forward(), which names the expected and actual values.
    deployrt::Tensor x = deployrt::Tensor::wrap(input.data.data(), deployrt::DType::kF32, input.shape);
    std::vector<deployrt::Tensor> outputs = module.forward({x});

    for (size_t i = 0; i < outputs.size(); ++i) {
      std::cout << "output " << module.outputs()[i].name << ": " << deployrt::dtype_name(outputs[i].dtype()) << " "
                << shape_string(outputs[i].shape()) << "\n";
    }
    write_npy(argv[3], outputs[0]);
    if (outputs[0].rank() == 2 && outputs[0].dtype() == deployrt::DType::kF32) print_top5(outputs[0]);
  } catch (const deployrt::Error& e) {
    std::cerr << "deployrt_example: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "deployrt_example: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
