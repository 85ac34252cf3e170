// deploykit._runtime: the C++ runtime seen from Python.
//
// This is the only place a deployrt::Status becomes a Python exception: each
// ErrorCode maps to a class in deploykit/errors.py (ERROR_CLASSES), so Python code
// catches deploykit.ArchiveError, deploykit.InputError, ... and never a bare RuntimeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "deployrt/deployrt.h"

namespace py = pybind11;

namespace {

[[noreturn]] void raise_status(const deployrt::Status& status) {
  py::object classes = py::module_::import("deploykit.errors").attr("ERROR_CLASSES");
  py::object cls = classes.attr("get")(static_cast<int>(status.code()));
  if (cls.is_none()) cls = py::module_::import("deploykit.errors").attr("DeployError");
  PyErr_SetObject(cls.ptr(), py::str(status.message()).ptr());
  throw py::error_already_set();
}

template <class T>
T unwrap(deployrt::Result<T> result) {
  if (!result.ok()) raise_status(result.status());
  return std::move(result).value();
}

deployrt::DType dtype_from_numpy(const py::dtype& dt) {
  // Only the kinds the archive knows; anything else is reported by the caller.
  if (dt.is(py::dtype::of<float>())) return deployrt::DType::kF32;
  if (dt.is(py::dtype::of<double>())) return deployrt::DType::kF64;
  if (dt.is(py::dtype::of<int8_t>())) return deployrt::DType::kI8;
  if (dt.is(py::dtype::of<uint8_t>())) return deployrt::DType::kU8;
  if (dt.is(py::dtype::of<int16_t>())) return deployrt::DType::kI16;
  if (dt.is(py::dtype::of<int32_t>())) return deployrt::DType::kI32;
  if (dt.is(py::dtype::of<int64_t>())) return deployrt::DType::kI64;
  if (dt.is(py::dtype::of<bool>())) return deployrt::DType::kBool;
  if (dt.kind() == 'f' && dt.itemsize() == 2) return deployrt::DType::kF16;
  return deployrt::DType::kInvalid;
}

py::dtype numpy_from_dtype(deployrt::DType dtype) {
  switch (dtype) {
    case deployrt::DType::kF32: return py::dtype::of<float>();
    case deployrt::DType::kF64: return py::dtype::of<double>();
    case deployrt::DType::kI8: return py::dtype::of<int8_t>();
    case deployrt::DType::kU8: return py::dtype::of<uint8_t>();
    case deployrt::DType::kI16: return py::dtype::of<int16_t>();
    case deployrt::DType::kI32: return py::dtype::of<int32_t>();
    case deployrt::DType::kI64: return py::dtype::of<int64_t>();
    case deployrt::DType::kBool: return py::dtype::of<bool>();
    case deployrt::DType::kF16: return py::dtype("float16");
    default: break;
  }
  raise_status(deployrt::Status(deployrt::ErrorCode::kInternal, "output has an invalid dtype"));
}

py::list tensor_infos(const std::vector<deployrt::TensorInfo>& infos) {
  py::list out;
  for (const auto& info : infos) {
    py::tuple shape(info.shape.size());
    for (size_t i = 0; i < info.shape.size(); ++i) shape[i] = info.shape[i];
    out.append(py::make_tuple(info.name, deployrt::dtype_name(info.dtype), shape));
  }
  return out;
}

// Wraps each array without a copy when it is C-contiguous; otherwise makes one
// contiguous copy (kept alive in `keep`). The dtype is checked by the runtime, which
// names the expected and actual types.
std::vector<deployrt::Tensor> wrap_inputs(const std::vector<py::array>& arrays,
                                          std::vector<py::array>& keep) {
  std::vector<deployrt::Tensor> tensors;
  tensors.reserve(arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    py::array a = arrays[i];
    deployrt::DType dtype = dtype_from_numpy(a.dtype());
    if (dtype == deployrt::DType::kInvalid) {
      raise_status(deployrt::Status(deployrt::ErrorCode::kInput,
                                    "input " + std::to_string(i) + ": unsupported numpy dtype " +
                                        std::string(py::str(a.dtype()))));
    }
    if (!(a.flags() & py::array::c_style)) {
      a = py::array::ensure(a, py::array::c_style | py::array::forcecast);
    }
    keep.push_back(a);
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    tensors.push_back(deployrt::Tensor::wrap(a.data(), dtype, std::move(shape)));
  }
  return tensors;
}

// The output Tensor's storage is kept alive by a capsule that owns a copy of the
// Tensor handle, so numpy sees the runtime's buffer without another copy.
py::array to_numpy(const deployrt::Tensor& t) {
  auto* holder = new deployrt::Tensor(t);
  py::capsule owner(holder, [](void* p) { delete static_cast<deployrt::Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return py::array(numpy_from_dtype(t.dtype()), shape, holder->data(), owner);
}

}  // namespace

PYBIND11_MODULE(_runtime, m) {
  m.doc() = "deploykit C++ runtime (libdeployrt) bindings";
  m.def("version", &deployrt::version);

  py::class_<deployrt::Module>(m, "Module")
      .def_static(
          "load",
          [](const std::string& path, int num_threads) {
            if (num_threads < 0) {
              raise_status(deployrt::Status(deployrt::ErrorCode::kInput,
                                            "num_threads must be >= 0, got " + std::to_string(num_threads)));
            }
            deployrt::LoadOptions options;
            options.num_threads = num_threads;
            deployrt::Result<deployrt::Module> result = [&] {
              py::gil_scoped_release release;
              return deployrt::Module::try_load(path, options);
            }();
            return unwrap(std::move(result));
          },
          py::arg("path"), py::arg("num_threads") = 0)
      .def(
          "forward",
          [](const deployrt::Module& self, const std::vector<py::array>& inputs) {
            std::vector<py::array> keep;
            std::vector<deployrt::Tensor> tensors = wrap_inputs(inputs, keep);
            deployrt::Result<std::vector<deployrt::Tensor>> result = [&] {
              py::gil_scoped_release release;
              return self.try_forward(tensors);
            }();
            std::vector<deployrt::Tensor> outputs = unwrap(std::move(result));
            py::list out;
            for (const auto& t : outputs) out.append(to_numpy(t));
            return out;
          },
          py::arg("inputs"))
      .def_property_readonly("inputs", [](const deployrt::Module& self) { return tensor_infos(self.inputs()); })
      .def_property_readonly("outputs", [](const deployrt::Module& self) { return tensor_infos(self.outputs()); })
      .def_property_readonly("metadata", &deployrt::Module::metadata)
      .def_property_readonly("arena_bytes", &deployrt::Module::arena_bytes)
      .def_property_readonly("num_nodes", &deployrt::Module::num_nodes)
      .def_property_readonly("num_threads", &deployrt::Module::num_threads);
}
