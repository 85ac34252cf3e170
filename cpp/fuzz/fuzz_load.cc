// libFuzzer harness: load only. Each input is tried twice: as is (the checksums reject
// almost every mutation, which exercises the structural checks up to the CRCs) and
// with every CRC recomputed, so mutations reach the semantic checks behind them.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "archive_builder.h"  // fix_crcs
#include "exercise.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dkr_fuzz::exercise(data, size, /*run=*/false);
  std::vector<uint8_t> fixed(data, data + size);
  dkr_test::fix_crcs(fixed);
  dkr_fuzz::exercise(fixed.data(), fixed.size(), /*run=*/false);
  return 0;
}
