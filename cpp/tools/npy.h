// NumPy .npy files (format versions 1.0, 2.0, 3.0): little-endian, C order, dtypes of
// deployrt::DType. Enough for deployrt-run to exchange tensors with Python.
#pragma once

#include <string>

#include "deployrt/deployrt.h"

namespace npy {

/// Reads a .npy file into a freshly allocated tensor. Errors (kIo for I/O, kInput for
/// an unsupported or malformed file: Fortran order, big-endian, unknown dtype) name the
/// file and the problem.
deployrt::Result<deployrt::Tensor> read(const std::string& path);

/// Writes a version 1.0 file (2.0 if the header needs it).
deployrt::Status write(const std::string& path, const deployrt::Tensor& tensor);

}  // namespace npy
