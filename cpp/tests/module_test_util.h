// Helpers the Module-level tests share: load an in-memory archive as a test step, read a
// float output, and expect a Status of a given code whose message names the problem.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "deployrt/deployrt.h"

namespace dkr_test {

/// The archive as a Module (num_threads 0 becomes 1: tests are single-threaded unless they
/// ask). A load error is a test failure, and an empty Module is returned.
inline deployrt::Module load_module(const std::vector<uint8_t>& bytes, deployrt::LoadOptions options = {}) {
  if (options.num_threads == 0) options.num_threads = 1;
  auto m = deployrt::Module::try_load_from_memory(bytes.data(), bytes.size(), options);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : deployrt::Module();
}

/// The elements of an f32 tensor.
inline std::vector<float> f32_values(const deployrt::Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<float>(p, p + t.numel());
}

}  // namespace dkr_test

/// Expects a Status of code `code_` whose message contains `substring`.
#define EXPECT_ERROR(status_expr, code_, substring)                                          \
  do {                                                                                       \
    const ::deployrt::Status st_ = (status_expr);                                            \
    EXPECT_EQ(st_.code(), code_) << st_.to_string();                                         \
    EXPECT_NE(st_.message().find(substring), std::string::npos)                              \
        << "message: " << st_.message() << "\nexpected to contain: " << (substring);          \
  } while (0)
