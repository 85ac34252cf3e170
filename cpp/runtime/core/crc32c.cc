// CRC-32C. On x86-64 with SSE4.2 the crc32 instruction does 8 bytes per instruction
// (several GB/s: checksumming is most of a large archive's load time otherwise);
// everywhere else slicing-by-8 tables, portable and about 1-2 GB/s.
#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define DEPLOYRT_HAVE_CRC32_INSTRUCTION 1
#endif

namespace deployrt {
namespace {

using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

const Tables& tables() {
  static const Tables t = make_tables();
  return t;
}

uint32_t crc32c_tables(const void* data, size_t size, uint32_t crc) {
  const Tables& t = tables();
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (size >= 8) {
    uint8_t b[8];
    std::memcpy(b, p, 8);  // byte-wise: no alignment or endianness assumption
    uint32_t lo = c ^ (uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
        t[3][b[4]] ^ t[2][b[5]] ^ t[1][b[6]] ^ t[0][b[7]];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return ~c;
}

#ifdef DEPLOYRT_HAVE_CRC32_INSTRUCTION
// Compiled for SSE4.2 by the target attribute, not by a global flag, so the library
// still runs on x86-64 CPUs without it (crc32c() checks before calling).
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool have_sse42() {
  static const bool supported = __builtin_cpu_supports("sse4.2");
  return supported;
}
#endif

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
#ifdef DEPLOYRT_HAVE_CRC32_INSTRUCTION
  if (have_sse42()) return crc32c_sse42(data, size, crc);
#endif
  return crc32c_tables(data, size, crc);
}

uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc) { return crc32c_tables(data, size, crc); }

}  // namespace deployrt
