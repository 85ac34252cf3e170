// libFuzzer harness: load, then run with deterministic inputs (NaN, Inf and denormals
// included). CRCs are recomputed first, so mutations reach the verifier's semantic
// checks, shape inference, the memory planner and the kernels.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "archive_builder.h"  // fix_crcs
#include "exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> fixed(data, data + size);
  dkr_test::fix_crcs(fixed);
  dkr_fuzz::exercise(fixed.data(), fixed.size(), /*run=*/true);
  return 0;
}
