#include "api/parallel_checksum.h"

#include <algorithm>
#include <vector>

#include "core/crc32c.h"

namespace deployrt {

archive::ArchiveView::Checksum parallel_crc32c(ThreadPool& pool) {
  return [&pool](const uint8_t* data, size_t size) -> uint32_t {
    // Below a few MB a piece costs less than waking a thread for it.
    constexpr size_t kMinPieceBytes = size_t{4} << 20;
    const size_t pieces = std::min<size_t>(static_cast<size_t>(pool.num_threads()), size / kMinPieceBytes);
    if (pieces <= 1) return crc32c(data, size);
    // Piece boundaries on cache lines; the last piece takes the remainder.
    const size_t piece_bytes = size / pieces / 64 * 64;
    std::vector<uint32_t> crcs(pieces);
    pool.parallel_for(static_cast<int64_t>(pieces), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t offset = static_cast<size_t>(i) * piece_bytes;
        const size_t bytes = static_cast<size_t>(i) + 1 == pieces ? size - offset : piece_bytes;
        crcs[static_cast<size_t>(i)] = crc32c(data + offset, bytes);
      }
    });
    uint32_t crc = crcs[0];
    for (size_t i = 1; i < pieces; ++i) {
      crc = crc32c_combine(crc, crcs[i], i + 1 == pieces ? size - i * piece_bytes : piece_bytes);
    }
    return crc;
  };
}

}  // namespace deployrt
