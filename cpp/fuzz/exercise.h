// One untrusted archive through the public API: load from memory, and optionally run
// with deterministic inputs. Shared by the libFuzzer harnesses (fuzz_load.cc,
// fuzz_load_run.cc), the deterministic sweep tool (sweep_main.cc) and the GoogleTest
// sweep, so all of them exercise exactly the same path.
//
// "Never crash" is the property under test; beyond that, every failure must be a typed
// Status with a message: kInternal (a deployrt bug) or an empty message aborts, so the
// fuzzer and the sweeps report it as a crash.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "deployrt/deployrt.h"

namespace dkr_fuzz {

/// Bounds that keep one execution small (a fuzzer runs thousands per second and
/// libFuzzer's default malloc limit is 2 GiB); archives above them are refused (kLimit)
/// or loaded but not run. They are policy of the harness, not of the runtime.
constexpr uint64_t kFuzzArenaBytes = uint64_t{16} << 20;
constexpr uint64_t kFuzzInputBytes = uint64_t{16} << 20;

enum class Outcome {
  kRejected,       // load returned a typed error
  kRan,            // loaded, and forward() ran
  kRunRejected,    // loaded, forward() returned a typed error
  kLoadedNotRun,   // loaded; not run (run=false, or inputs above kFuzzInputBytes)
};

inline void require_typed(const deployrt::Status& status, const char* stage) {
  if (status.code() == deployrt::ErrorCode::kInternal || status.message().empty()) {
    std::fprintf(stderr, "dkr_fuzz: %s gave an untyped or internal error: %s\n", stage, status.to_string().c_str());
    std::abort();
  }
}

/// Deterministic input values, with NaN, +-Inf and a denormal sprinkled in, so the run
/// path sees the special values PyTorch propagates.
inline void fill_input(void* data, deployrt::DType dtype, int64_t numel) {
  if (dtype != deployrt::DType::kF32) {
    std::memset(data, 0, static_cast<size_t>(numel) * deployrt::dtype_size(dtype));
    return;
  }
  auto* f = static_cast<float*>(data);
  for (int64_t i = 0; i < numel; ++i) {
    switch (i % 29) {
      case 7: f[i] = std::numeric_limits<float>::quiet_NaN(); break;
      case 13: f[i] = std::numeric_limits<float>::infinity(); break;
      case 19: f[i] = -std::numeric_limits<float>::infinity(); break;
      case 23: f[i] = std::numeric_limits<float>::denorm_min(); break;
      default: f[i] = static_cast<float>(i % 11) * 0.25f - 1.0f;
    }
  }
}

inline Outcome exercise(const uint8_t* data, size_t size, bool run) {
  deployrt::LoadOptions options;
  options.num_threads = 1;
  options.max_concurrent_calls = 1;
  options.max_arena_bytes = kFuzzArenaBytes;
  deployrt::Result<deployrt::Module> loaded = deployrt::Module::try_load_from_memory(data, size, options);
  if (!loaded.ok()) {
    require_typed(loaded.status(), "load");
    return Outcome::kRejected;
  }
  if (!run) return Outcome::kLoadedNotRun;
  const deployrt::Module& module = loaded.value();
  // A symbolic dim (dynamic shapes, -1 in inputs()) is run at a small size.
  auto concrete = [](const deployrt::TensorInfo& info) {
    std::vector<int64_t> shape = info.shape;
    for (int64_t& d : shape) d = d < 0 ? 2 : d;
    return shape;
  };
  uint64_t total = 0;
  for (const deployrt::TensorInfo& info : module.inputs()) {
    int64_t numel = 1;
    for (int64_t d : concrete(info)) numel *= d;  // verified: cannot overflow
    total += static_cast<uint64_t>(numel) * deployrt::dtype_size(info.dtype);
    if (total > kFuzzInputBytes) return Outcome::kLoadedNotRun;
  }
  std::vector<deployrt::Tensor> inputs;
  for (const deployrt::TensorInfo& info : module.inputs()) {
    deployrt::Tensor t = deployrt::Tensor::empty(info.dtype, concrete(info));
    fill_input(t.data(), info.dtype, t.numel());
    inputs.push_back(t);
  }
  deployrt::Result<std::vector<deployrt::Tensor>> out = module.try_forward(inputs);
  if (!out.ok()) {
    require_typed(out.status(), "forward");
    return Outcome::kRunRejected;
  }
  return Outcome::kRan;
}

}  // namespace dkr_fuzz
