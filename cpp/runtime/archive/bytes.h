// Little-endian integer loads from untrusted, possibly unaligned bytes. memcpy avoids
// unaligned-access and strict-aliasing UB; the compiler turns it into a plain load.
#pragma once

#include <cstdint>
#include <cstring>

namespace deployrt {
namespace archive {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the archive is little-endian; a big-endian host needs byte swaps here");

inline uint16_t load_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, sizeof v); return v; }
inline uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, sizeof v); return v; }
inline uint64_t load_u64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, sizeof v); return v; }
inline int64_t load_i64(const uint8_t* p) { int64_t v; std::memcpy(&v, p, sizeof v); return v; }
inline double load_f64(const uint8_t* p) { double v; std::memcpy(&v, p, sizeof v); return v; }

}  // namespace archive
}  // namespace deployrt
