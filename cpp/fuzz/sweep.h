// Deterministic robustness sweep of one archive: every prefix truncation, and every
// single-byte flip (XOR 0xFF) with the checksums (a) left as they are and (b) recomputed,
// so the semantic checks are what must hold. Each variant goes through
// dkr_fuzz::exercise (load + run); a crash aborts the process, so callers run it in a
// child process (tests/test_sweep.py) or under a sanitizer (bad_inputs_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "archive_builder.h"  // fix_crcs
#include "exercise.h"

namespace dkr_fuzz {

struct SweepCounts {
  size_t cases = 0;
  size_t typed_error = 0;     // load refused with a typed error
  size_t ran = 0;             // loaded and ran
  size_t run_rejected = 0;    // loaded; forward() refused with a typed error
  size_t loaded_not_run = 0;  // loaded; inputs above the harness bound
  void add(Outcome o) {
    ++cases;
    switch (o) {
      case Outcome::kRejected: ++typed_error; break;
      case Outcome::kRan: ++ran; break;
      case Outcome::kRunRejected: ++run_rejected; break;
      case Outcome::kLoadedNotRun: ++loaded_not_run; break;
    }
  }
};

/// Called before each case (for crash reports); may be null.
using SweepProgress = void (*)(const char* kind, size_t index);

inline SweepCounts sweep_truncations(const std::vector<uint8_t>& archive, SweepProgress progress = nullptr) {
  SweepCounts counts;
  for (size_t n = 0; n < archive.size(); ++n) {
    if (progress) progress("truncate", n);
    counts.add(exercise(archive.data(), n, true));
  }
  return counts;
}

inline SweepCounts sweep_flips(const std::vector<uint8_t>& archive, bool recompute_crcs,
                               SweepProgress progress = nullptr) {
  SweepCounts counts;
  std::vector<uint8_t> copy = archive;
  for (size_t i = 0; i < archive.size(); ++i) {
    if (progress) progress(recompute_crcs ? "flip+crc" : "flip", i);
    copy[i] ^= 0xFF;
    if (recompute_crcs) {
      std::vector<uint8_t> fixed = copy;
      dkr_test::fix_crcs(fixed);
      counts.add(exercise(fixed.data(), fixed.size(), true));
    } else {
      counts.add(exercise(copy.data(), copy.size(), true));
    }
    copy[i] = archive[i];
  }
  return counts;
}

}  // namespace dkr_fuzz
