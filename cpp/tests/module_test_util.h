// Helpers the Module-level tests share: the names they use unqualified, load an in-memory
// archive as a test step or as a Status, write an archive to a temporary file, read a float
// output, and expect a Status of a given code whose message names the problem.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "archive_builder.h"
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

/// What loading the archive says (options default to one thread).
inline deployrt::Status load_status(const std::vector<uint8_t>& bytes, deployrt::LoadOptions options = {1}) {
  return deployrt::Module::try_load_from_memory(bytes.data(), bytes.size(), options).status();
}

/// Writes `bytes` to `name` in the test temp dir; returns its path (the test removes it).
inline std::string write_temp(const std::vector<uint8_t>& bytes, const std::string& name) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// The elements of an f32 tensor.
inline std::vector<float> f32_values(const deployrt::Tensor& t) {
  const float* p = t.data_as<float>();
  return std::vector<float>(p, p + t.numel());
}

/// `using namespace dkr_test::module_names;` in a test file's anonymous namespace.
namespace module_names {
using deployrt::DType;
using deployrt::ErrorCode;
using deployrt::LoadOptions;
using deployrt::Module;
using deployrt::OpKind;
using deployrt::Status;
using deployrt::Tensor;
using dkr_test::ArchiveBuilder;
using A = dkr_test::ArchiveBuilder;
using dkr_test::f32_values;
}  // namespace module_names

}  // namespace dkr_test

/// Expects a Status of code `code_` whose message contains `substring`.
#define EXPECT_ERROR(status_expr, code_, substring)                                          \
  do {                                                                                       \
    const ::deployrt::Status st_ = (status_expr);                                            \
    EXPECT_EQ(st_.code(), code_) << st_.to_string();                                         \
    EXPECT_NE(st_.message().find(substring), std::string::npos)                              \
        << "message: " << st_.message() << "\nexpected to contain: " << (substring);          \
  } while (0)
