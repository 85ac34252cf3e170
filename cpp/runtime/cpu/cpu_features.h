// What the CPU (and the OS, via XCR0) lets us run, capped by DEPLOYRT_ISA. Detected
// once per process; kernel dispatch reads isa_level().
#pragma once

namespace deployrt {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;  // AVX-512 Foundation, with ZMM state enabled by the OS
};

enum class IsaLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

/// Raw hardware + OS support (cpuid and xgetbv), ignoring DEPLOYRT_ISA.
CpuFeatures detect_cpu_features();

/// Highest usable level, given detected features and an optional cap string
/// ("scalar", "avx2", "avx512"; null or unrecognized: no cap).
IsaLevel isa_level_for(const CpuFeatures& features, const char* cap);

/// isa_level_for(detect_cpu_features(), getenv("DEPLOYRT_ISA")), computed once.
IsaLevel isa_level();

const char* isa_name(IsaLevel level);

/// Caps isa_level() on the calling thread while alive (LoadOptions::max_isa): kernels
/// are chosen while a Module loads, on the loading thread, so a cap held across the load
/// applies to that Module only. Nests; restores the previous cap on destruction.
class ScopedIsaCap {
 public:
  explicit ScopedIsaCap(IsaLevel cap);
  ~ScopedIsaCap();
  ScopedIsaCap(const ScopedIsaCap&) = delete;
  ScopedIsaCap& operator=(const ScopedIsaCap&) = delete;

 private:
  IsaLevel previous_;
};

}  // namespace deployrt
