#include "cpu/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace deployrt {

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = (ecx >> 27) & 1;
  const bool avx = (ecx >> 28) & 1;
  const bool fma = (ecx >> 12) & 1;
  if (!osxsave || !avx) return f;
  // XCR0: the OS must save XMM|YMM (bits 1,2) for AVX, plus opmask|ZMM_Hi256|Hi16_ZMM
  // (bits 5,6,7) for AVX-512. A CPU can support an ISA the kernel does not enable.
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x6) == 0x6;
  const bool zmm_state = (xcr0_lo & 0xE6) == 0xE6;
  if (!ymm_state || __get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = (ebx >> 5) & 1;
  f.fma = fma;
  f.avx512f = zmm_state && ((ebx >> 16) & 1);
#endif
  return f;
}

IsaLevel isa_level_for(const CpuFeatures& features, const char* cap) {
  IsaLevel level = IsaLevel::kScalar;
  if (features.avx2 && features.fma) level = IsaLevel::kAvx2;
  if (level == IsaLevel::kAvx2 && features.avx512f) level = IsaLevel::kAvx512;
  IsaLevel limit = IsaLevel::kAvx512;
  if (cap != nullptr) {
    if (std::strcmp(cap, "scalar") == 0) limit = IsaLevel::kScalar;
    else if (std::strcmp(cap, "avx2") == 0) limit = IsaLevel::kAvx2;
    // "avx512" or anything unrecognized: no cap (a typo must not crash or slow down).
  }
  return static_cast<int>(level) < static_cast<int>(limit) ? level : limit;
}

namespace {
thread_local IsaLevel t_isa_cap = IsaLevel::kAvx512;  // ScopedIsaCap; kAvx512 = no cap
}  // namespace

IsaLevel isa_level() {
  static const IsaLevel level = isa_level_for(detect_cpu_features(), std::getenv("DEPLOYRT_ISA"));
  return static_cast<int>(t_isa_cap) < static_cast<int>(level) ? t_isa_cap : level;
}

ScopedIsaCap::ScopedIsaCap(IsaLevel cap) : previous_(t_isa_cap) {
  if (static_cast<int>(cap) < static_cast<int>(t_isa_cap)) t_isa_cap = cap;
}
ScopedIsaCap::~ScopedIsaCap() { t_isa_cap = previous_; }

const char* isa_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::kScalar: return "scalar";
    case IsaLevel::kAvx2: return "avx2";
    case IsaLevel::kAvx512: return "avx512";
  }
  return "scalar";
}

}  // namespace deployrt
