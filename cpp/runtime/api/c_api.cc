// The C API (deployrt/deployrt_c.h) over the C++ API. Every function catches everything:
// no C++ exception crosses the extern "C" boundary. Errors are stored per thread.
#include "deployrt/deployrt_c.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "deployrt/deployrt.h"

struct deployrt_module {
  deployrt::Module module;
};

namespace {

thread_local std::string t_last_error;

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

deployrt_status fail(const deployrt::Status& status) {
  try {
    t_last_error = status.to_string();
  } catch (...) {
    // Out of memory while storing the message: keep the previous one, report the code.
  }
  return static_cast<deployrt_status>(status.code());
}

deployrt_status fail(deployrt::ErrorCode code, const char* message) { return fail(deployrt::Status(code, message)); }

// Runs `body` (returning deployrt_status), turning any escaping exception into a status.
template <class Body>
deployrt_status guarded(Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(deployrt::ErrorCode::kLimit, "out of memory");
  } catch (const std::exception& e) {
    return fail(deployrt::ErrorCode::kInternal, e.what());
  } catch (...) {
    return fail(deployrt::ErrorCode::kInternal, "unknown exception");
  }
}

deployrt::LoadOptions to_options(const deployrt_load_options* options) {
  deployrt::LoadOptions o;
  if (options == nullptr) return o;
  o.num_threads = options->num_threads;
  o.max_concurrent_calls = options->max_concurrent_calls;
  o.max_arena_bytes = options->max_arena_bytes;
  o.copy_file = options->copy_file != 0;
  o.max_isa = static_cast<deployrt::Isa>(options->max_isa);
  o.compact_weights = options->compact_weights != 0;
  return o;
}

deployrt_status finish_load(deployrt::Result<deployrt::Module> result, deployrt_module** out) {
  if (!result.ok()) return fail(result.status());
  *out = new deployrt_module{std::move(result).value()};
  return DEPLOYRT_OK;
}

// Converts C tensors, checking what the C++ Tensor cannot represent (rank, dtype code).
deployrt_status to_tensors(const deployrt_tensor* tensors, size_t count, const char* what,
                           std::vector<deployrt::Tensor>* out) {
  if (tensors == nullptr && count > 0) {
    return fail(deployrt::ErrorCode::kInput, (std::string(what) + " array is NULL").c_str());
  }
  for (size_t i = 0; i < count; ++i) {
    const deployrt_tensor& t = tensors[i];
    const std::string label = std::string(what) + " " + std::to_string(i);
    if (t.rank < 0 || t.rank > DEPLOYRT_MAX_RANK) {
      return fail(deployrt::ErrorCode::kInput,
                  (label + ": rank " + std::to_string(t.rank) + ", expected 0..8").c_str());
    }
    if (deployrt::dtype_size(static_cast<deployrt::DType>(t.dtype)) == 0) {
      return fail(deployrt::ErrorCode::kInput, (label + ": invalid dtype code " + std::to_string(t.dtype)).c_str());
    }
    out->push_back(deployrt::Tensor::wrap(t.data, static_cast<deployrt::DType>(t.dtype),
                                          std::vector<int64_t>(t.shape, t.shape + t.rank)));
  }
  return DEPLOYRT_OK;
}

deployrt_status info_at(const deployrt_module* module, size_t index, deployrt_tensor_info* out, bool input) {
  if (module == nullptr || out == nullptr) return fail(deployrt::ErrorCode::kInput, "module or out is NULL");
  const std::vector<deployrt::TensorInfo>& infos = input ? module->module.inputs() : module->module.outputs();
  if (index >= infos.size()) {
    return fail(deployrt::ErrorCode::kInput, (std::string(input ? "input" : "output") + " index " +
                                              std::to_string(index) + " >= count " + std::to_string(infos.size()))
                                                 .c_str());
  }
  const deployrt::TensorInfo& info = infos[index];
  std::memset(out, 0, sizeof *out);
  out->name = info.name.c_str();
  out->dtype = static_cast<int32_t>(info.dtype);
  out->rank = static_cast<int32_t>(info.shape.size());
  for (size_t d = 0; d < info.shape.size() && d < DEPLOYRT_MAX_RANK; ++d) out->shape[d] = info.shape[d];
  return DEPLOYRT_OK;
}

int32_t find_name(const deployrt_module* module, const char* name, bool input) {
  if (module == nullptr || name == nullptr) return -1;
  try {
    return input ? module->module.find_input(name) : module->module.find_output(name);
  } catch (...) {
    return -1;
  }
}

}  // namespace

extern "C" {

void deployrt_load_options_init(deployrt_load_options* options) {
  if (options != nullptr) std::memset(options, 0, sizeof *options);
}

const char* deployrt_last_error(void) { return t_last_error.c_str(); }

const char* deployrt_status_name(deployrt_status status) {
  if (status == DEPLOYRT_OK) return "ok";
  return deployrt::error_code_name(static_cast<deployrt::ErrorCode>(status));
}

const char* deployrt_version(void) { return deployrt::version(); }

size_t deployrt_dtype_size(int32_t dtype) { return deployrt::dtype_size(static_cast<deployrt::DType>(dtype)); }

deployrt_status deployrt_module_load(const char* path, const deployrt_load_options* options, deployrt_module** out) {
  if (out == nullptr) return fail(deployrt::ErrorCode::kInput, "deployrt_module_load: out is NULL");
  *out = nullptr;
  if (path == nullptr) return fail(deployrt::ErrorCode::kInput, "deployrt_module_load: path is NULL");
  return guarded([&] { return finish_load(deployrt::Module::try_load(path, to_options(options)), out); });
}

deployrt_status deployrt_module_load_from_memory(const void* data, size_t size, const deployrt_load_options* options,
                                                 deployrt_module** out) {
  if (out == nullptr) return fail(deployrt::ErrorCode::kInput, "deployrt_module_load_from_memory: out is NULL");
  *out = nullptr;
  return guarded(
      [&] { return finish_load(deployrt::Module::try_load_from_memory(data, size, to_options(options)), out); });
}

void deployrt_module_free(deployrt_module* module) { delete module; }

size_t deployrt_module_num_inputs(const deployrt_module* module) {
  return module == nullptr ? 0 : module->module.inputs().size();
}

size_t deployrt_module_num_outputs(const deployrt_module* module) {
  return module == nullptr ? 0 : module->module.outputs().size();
}

deployrt_status deployrt_module_input_info(const deployrt_module* module, size_t index, deployrt_tensor_info* out) {
  return info_at(module, index, out, true);
}

deployrt_status deployrt_module_output_info(const deployrt_module* module, size_t index, deployrt_tensor_info* out) {
  return info_at(module, index, out, false);
}

int32_t deployrt_module_find_input(const deployrt_module* module, const char* name) {
  return find_name(module, name, true);
}

int32_t deployrt_module_find_output(const deployrt_module* module, const char* name) {
  return find_name(module, name, false);
}

deployrt_status deployrt_module_forward(const deployrt_module* module, const deployrt_tensor* inputs,
                                        size_t num_inputs, deployrt_tensor* outputs, size_t num_outputs) {
  if (module == nullptr) return fail(deployrt::ErrorCode::kInput, "deployrt_module_forward: module is NULL");
  return guarded([&] {
    std::vector<deployrt::Tensor> ins, outs;
    deployrt_status s = to_tensors(inputs, num_inputs, "input", &ins);
    if (s != DEPLOYRT_OK) return s;
    s = to_tensors(outputs, num_outputs, "output", &outs);
    if (s != DEPLOYRT_OK) return s;
    deployrt::Status status = module->module.try_forward_into(ins, outs);
    return status.ok() ? DEPLOYRT_OK : fail(status);
  });
}

size_t deployrt_module_num_test_vectors(const deployrt_module* module) {
  return module == nullptr ? 0 : module->module.num_test_vectors();
}

deployrt_status deployrt_module_selftest(const deployrt_module* module) {
  if (module == nullptr) return fail(deployrt::ErrorCode::kInput, "deployrt_module_selftest: module is NULL");
  return guarded([&] {
    deployrt::Result<deployrt::SelftestReport> report = module->module.try_selftest();
    if (!report.ok()) return fail(report.status());
    for (const deployrt::SelftestCheck& c : report.value().checks) {
      if (c.passed) continue;
      return fail(deployrt::ErrorCode::kInput,
                  ("selftest failed: vector " + std::to_string(c.vector) + " output " + std::to_string(c.output) +
                   " '" + c.name + "': max abs error " + g(c.max_abs_error) + ", max rel error " +
                   g(c.max_rel_error) + ", tolerance " + g(c.tolerance))
                      .c_str());
    }
    return DEPLOYRT_OK;
  });
}

}  // extern "C"
