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

#include "api/prepack.h"
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
  // pybind11 looks numpy's C API up (importing numpy's multiarray module) when it first
  // converts an array: here, at import, rather than inside the first forward() (~0.3 ms).
  (void)py::dtype::of<float>();
  m.def("version", &deployrt::version);
  m.def(
      "prepack",
      [](const std::string& path, const std::string& isa) {
        // Format 1.4 PACKED_WEIGHTS: every weight the runtime packs when it loads `path`
        // with kernels up to `isa` (capped by the host and DEPLOYRT_ISA).
        deployrt::Isa cap = deployrt::Isa::kBest;
        if (isa == "scalar") cap = deployrt::Isa::kScalar;
        else if (isa == "avx2") cap = deployrt::Isa::kAvx2;
        else if (isa == "avx512") cap = deployrt::Isa::kAvx512;
        else if (isa != "best") {
          raise_status(deployrt::Status(deployrt::ErrorCode::kInput,
                                        "prepack: isa is '" + isa + "', expected best, scalar, avx2 or avx512"));
        }
        deployrt::Result<std::vector<deployrt::PrepackedRecord>> result = [&] {
          py::gil_scoped_release release;
          return deployrt::prepack_weights(path, cap);
        }();
        py::list out;
        for (const deployrt::PrepackedRecord& r : unwrap(std::move(result))) {
          out.append(py::make_tuple(r.source_tensor, r.layout, py::make_tuple(r.params[0], r.params[1], r.params[2]),
                                    r.isa, py::bytes(reinterpret_cast<const char*>(r.bytes.data()), r.bytes.size())));
        }
        return out;
      },
      py::arg("path"), py::arg("isa") = "best",
      "[(source tensor, layout code, (p0, p1, p2), isa code, packed bytes)] of the weights the runtime packs at load");

  py::class_<deployrt::Module>(m, "Module")
      .def_static(
          "load",
          [](const std::string& path, int num_threads, bool copy_file, uint64_t max_arena_bytes,
             int max_concurrent_calls, bool compact_weights) {
            if (num_threads < 0) {
              raise_status(deployrt::Status(deployrt::ErrorCode::kInput,
                                            "num_threads must be >= 0, got " + std::to_string(num_threads)));
            }
            deployrt::LoadOptions options;
            options.num_threads = num_threads;
            options.copy_file = copy_file;
            options.max_arena_bytes = max_arena_bytes;
            options.max_concurrent_calls = max_concurrent_calls;
            options.compact_weights = compact_weights;
            deployrt::Result<deployrt::Module> result = [&] {
              py::gil_scoped_release release;
              return deployrt::Module::try_load(path, options);
            }();
            return unwrap(std::move(result));
          },
          py::arg("path"), py::arg("num_threads") = 0, py::arg("copy_file") = false,
          py::arg("max_arena_bytes") = 0, py::arg("max_concurrent_calls") = 0, py::arg("compact_weights") = false)
      .def_static(
          "load_bytes",
          // Any bytes-like object, at any alignment (a bytes object's payload is not
          // 64-byte aligned): the runtime copies it into an aligned buffer it owns.
          [](py::buffer data, int num_threads, uint64_t max_arena_bytes, int max_concurrent_calls,
             bool compact_weights) {
            py::buffer_info info = data.request();
            if (info.ndim != 1 || info.itemsize != 1 || (info.ndim == 1 && info.strides[0] != 1)) {
              raise_status(deployrt::Status(deployrt::ErrorCode::kInput,
                                            "load_bytes expects a contiguous bytes-like object"));
            }
            deployrt::LoadOptions options;
            options.num_threads = num_threads;
            options.max_arena_bytes = max_arena_bytes;
            options.max_concurrent_calls = max_concurrent_calls;
            options.compact_weights = compact_weights;
            deployrt::Result<deployrt::Module> result = [&] {
              py::gil_scoped_release release;
              return deployrt::Module::try_load_from_memory(info.ptr, static_cast<size_t>(info.size), options);
            }();
            return unwrap(std::move(result));
          },
          py::arg("data"), py::arg("num_threads") = 0, py::arg("max_arena_bytes") = 0,
          py::arg("max_concurrent_calls") = 0, py::arg("compact_weights") = false)
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
      .def(
          "profile",
          [](const deployrt::Module& self, const std::vector<py::array>& inputs, int runs) {
            std::vector<py::array> keep;
            std::vector<deployrt::Tensor> tensors = wrap_inputs(inputs, keep);
            deployrt::Result<std::vector<deployrt::NodeProfile>> result = [&] {
              py::gil_scoped_release release;
              return self.try_profile(tensors, runs);
            }();
            py::list out;
            for (const deployrt::NodeProfile& p : unwrap(std::move(result))) {
              py::dict d;
              d["name"] = p.name;
              d["op"] = p.op;
              d["milliseconds"] = p.milliseconds;
              d["flops"] = p.flops;
              out.append(std::move(d));
            }
            return out;
          },
          py::arg("inputs"), py::arg("runs") = 1,
          "Runs the model `runs` times timing each node: one dict (name, op, milliseconds, flops) "
          "per node, in execution order; milliseconds is the mean per run.")
      .def(
          "forward_debug",
          [](const deployrt::Module& self, const std::vector<py::array>& inputs) {
            std::vector<py::array> keep;
            std::vector<deployrt::Tensor> tensors = wrap_inputs(inputs, keep);
            deployrt::Result<std::vector<deployrt::DebugValue>> result = [&] {
              py::gil_scoped_release release;
              return self.try_forward_debug(tensors);
            }();
            py::list out;
            for (const deployrt::DebugValue& v : unwrap(std::move(result))) {
              out.append(py::make_tuple(v.node, v.op, v.name, to_numpy(v.tensor)));
            }
            return out;
          },
          py::arg("inputs"),
          "Runs once and returns (node, op, value name, array) for every node output, in execution order.")
      .def(
          "input_data_pointers",
          [](const deployrt::Module&, const std::vector<py::array>& inputs) {
            // What forward() hands the runtime: lets tests prove contiguous inputs are not copied.
            std::vector<py::array> keep;
            py::list out;
            for (const deployrt::Tensor& t : wrap_inputs(inputs, keep)) {
              out.append(reinterpret_cast<uintptr_t>(t.data()));
            }
            return out;
          },
          py::arg("inputs"))
      .def("selftest",
           [](const deployrt::Module& self) {
             deployrt::Result<deployrt::SelftestReport> result = [&] {
               py::gil_scoped_release release;
               return self.try_selftest();
             }();
             py::list out;
             for (const deployrt::SelftestCheck& c : unwrap(std::move(result)).checks) {
               py::dict d;
               d["vector"] = c.vector;
               d["output"] = c.output;
               d["name"] = c.name;
               d["max_abs"] = c.max_abs_error;
               d["max_rel"] = c.max_rel_error;
               d["tolerance"] = c.tolerance;
               d["passed"] = c.passed;
               out.append(std::move(d));
             }
             return out;
           })
      .def_property_readonly("num_test_vectors", &deployrt::Module::num_test_vectors)
      .def_property_readonly("isa", &deployrt::Module::isa)
      .def_property_readonly("inputs", [](const deployrt::Module& self) { return tensor_infos(self.inputs()); })
      .def_property_readonly("outputs", [](const deployrt::Module& self) { return tensor_infos(self.outputs()); })
      // Dynamic shapes: per input / output, the name of each dim (TensorInfo::dim_names;
      // an empty list when every dim is fixed).
      .def_property_readonly("input_dim_names",
                             [](const deployrt::Module& self) {
                               py::list out;
                               for (const auto& info : self.inputs()) out.append(py::cast(info.dim_names));
                               return out;
                             })
      .def_property_readonly("output_dim_names",
                             [](const deployrt::Module& self) {
                               py::list out;
                               for (const auto& info : self.outputs()) out.append(py::cast(info.dim_names));
                               return out;
                             })
      .def_property_readonly("metadata", &deployrt::Module::metadata)
      .def_property_readonly("arena_bytes", &deployrt::Module::arena_bytes)
      .def_property_readonly("num_nodes", &deployrt::Module::num_nodes)
      .def_property_readonly("num_threads", &deployrt::Module::num_threads);
}
