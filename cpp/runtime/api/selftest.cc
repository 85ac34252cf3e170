// Module::try_selftest: runs the archive's embedded test vectors (TEST_VECTORS section)
// and compares every output with the stored expected output, using the archive's own
// tolerance: pass when max|actual - expected| <= rtol * max|expected| + atol.
#include <algorithm>
#include <cmath>
#include <limits>

#include "api/module_impl.h"
#include "core/str_cat.h"

namespace deployrt {
namespace {

double element(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(data)[i];
    case DType::kF64: return static_cast<const double*>(data)[i];
    case DType::kI8: return static_cast<const int8_t*>(data)[i];
    case DType::kU8: return static_cast<const uint8_t*>(data)[i];
    case DType::kBool: return static_cast<const uint8_t*>(data)[i];
    case DType::kI16: return static_cast<const int16_t*>(data)[i];
    case DType::kI32: return static_cast<const int32_t*>(data)[i];
    case DType::kI64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    default: return 0;  // f16 and invalid: rejected by selftest() before comparing
  }
}

}  // namespace

Result<SelftestReport> Module::Impl::selftest() const {
  if (test_vectors_.vectors.empty()) {
    return Status(ErrorCode::kInput,
                  "the archive has no test vectors (export it with `deploykit export --embed-test-vectors`)");
  }
  SelftestReport report;
  for (size_t v = 0; v < test_vectors_.vectors.size(); ++v) {
    const std::vector<uint32_t>& indices = test_vectors_.vectors[v];
    std::vector<Tensor> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      args.push_back(Tensor::wrap(static_cast<const void*>(view_.tensor_data(indices[i])), inputs[i].dtype,
                                  inputs[i].shape));
    }
    Result<std::vector<Tensor>> result = forward(args);
    if (!result.ok()) {
      return Status(result.status().code(), str_cat("test vector ", v, ": ", result.status().message()));
    }
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Tensor& actual = result.value()[k];
      const void* expected = view_.tensor_data(indices[inputs.size() + k]);
      if (actual.dtype() == DType::kF16 || actual.dtype() == DType::kInvalid) {
        return Status(ErrorCode::kUnsupported, str_cat("selftest: output ", k, " is ", dtype_name(actual.dtype()),
                                                       ", which the selftest cannot compare"));
      }
      double max_abs = 0, max_expected = 0;
      for (int64_t i = 0; i < actual.numel(); ++i) {
        const double e = element(expected, actual.dtype(), i), a = element(actual.data(), actual.dtype(), i);
        if (std::isfinite(e)) max_expected = std::max(max_expected, std::fabs(e));
        // Equal values match (including equal infinities), and so does NaN where PyTorch
        // had NaN; any other non-finite difference is an infinite error.
        if (a == e || (std::isnan(a) && std::isnan(e))) continue;
        const double diff = std::fabs(a - e);
        max_abs = std::max(max_abs, std::isfinite(diff) ? diff : std::numeric_limits<double>::infinity());
      }
      SelftestCheck check;
      check.vector = v;
      check.output = k;
      check.name = outputs[k].name;
      check.max_abs_error = max_abs;
      check.max_rel_error = max_expected > 0 ? max_abs / max_expected : max_abs;
      check.tolerance = test_vectors_.rtol * max_expected + test_vectors_.atol;
      check.passed = max_abs <= check.tolerance;
      report.checks.push_back(std::move(check));
    }
  }
  return report;
}

size_t Module::num_test_vectors() const { return impl_ ? impl_->num_test_vectors() : 0; }

Result<SelftestReport> Module::try_selftest() const {
  if (!impl_) return Status(ErrorCode::kInternal, "Module is empty (default-constructed, not loaded)");
  return impl_->selftest();
}

}  // namespace deployrt
