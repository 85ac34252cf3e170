// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF,
// as the archive format specifies. crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deployrt {

/// Continues a CRC: pass the previous result as `crc` (0 to start), so a checksum can
/// be computed over several pieces: crc32c(b, nb, crc32c(a, na)).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

/// The CRC of A followed by B, from crc_a = crc32c(A), crc_b = crc32c(B) and B's length:
/// lets pieces of one buffer be checksummed on several threads and joined.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b);

/// The table-driven implementation crc32c() falls back to; exposed so tests can check
/// the hardware path against it.
uint32_t crc32c_portable(const void* data, size_t size, uint32_t crc = 0);

}  // namespace deployrt
