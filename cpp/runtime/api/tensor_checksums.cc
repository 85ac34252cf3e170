#include "api/tensor_checksums.h"

#include <algorithm>
#include <cstdio>

#include "core/crc32c.h"
#include "core/str_cat.h"

namespace deployrt {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

struct Piece {
  size_t item;      // index into the sorted tensor list
  uint64_t offset;  // within the tensor
  uint64_t bytes;
};

}  // namespace

Status verify_tensor_crcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors, ThreadPool& pool) {
  std::sort(tensors.begin(), tensors.end());
  tensors.erase(std::unique(tensors.begin(), tensors.end()), tensors.end());
  std::vector<uint64_t> sizes(tensors.size());
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    sizes[i] = view.tensor(tensors[i]).nbytes;
    total += sizes[i];
  }
  // One share of about total / parts bytes per thread, cut at byte boundaries that fall
  // inside tensors where they must: at most parts - 1 tensors are split. Below a few MB a
  // share costs less than waking a thread for it.
  constexpr uint64_t kMinShareBytes = uint64_t{2} << 20;
  const uint64_t parts = std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(pool.num_threads()),
                                                                   total / kMinShareBytes));
  std::vector<std::vector<Piece>> shares(parts);
  const uint64_t share_bytes = (total + parts - 1) / parts;  // the last share takes the rest
  size_t share = 0;
  uint64_t filled = 0;  // bytes in the current share
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (sizes[i] == 0) {
      shares[share].push_back({i, 0, 0});
      continue;
    }
    for (uint64_t offset = 0; offset < sizes[i];) {
      if (filled == share_bytes && share + 1 < parts) {
        ++share;
        filled = 0;
      }
      const bool last = share + 1 == parts;
      const uint64_t bytes = last ? sizes[i] - offset : std::min(sizes[i] - offset, share_bytes - filled);
      shares[share].push_back({i, offset, bytes});
      offset += bytes;
      filled += bytes;
    }
  }
  // Each piece's CRC, then per tensor its pieces joined in order.
  std::vector<std::vector<uint32_t>> crcs(parts);
  pool.parallel_for(static_cast<int64_t>(parts), [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      for (const Piece& p : shares[static_cast<size_t>(s)]) {
        crcs[static_cast<size_t>(s)].push_back(
            crc32c(view.tensor_data(tensors[p.item]) + p.offset, static_cast<size_t>(p.bytes)));
      }
    }
  });
  std::vector<uint32_t> computed(tensors.size(), 0);
  std::vector<bool> started(tensors.size(), false);
  for (size_t s = 0; s < parts; ++s) {
    for (size_t k = 0; k < shares[s].size(); ++k) {
      const Piece& p = shares[s][k];
      computed[p.item] = started[p.item] ? crc32c_combine(computed[p.item], crcs[s][k], p.bytes) : crcs[s][k];
      started[p.item] = true;
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint32_t stored = view.tensor_crc(tensors[i]);
    if (computed[i] != stored) {
      const std::string_view name = view.string(view.tensor(tensors[i]).name);
      return Status(ErrorCode::kArchive,
                    str_cat("tensor ", tensors[i], name.empty() ? std::string(" (unnamed)") : str_cat(" '", name, "'"),
                            ": TENSOR_CRCS stores crc ", hex32(stored), ", its ", sizes[i], " bytes have ",
                            hex32(computed[i]), " (corrupt weights)"));
    }
  }
  return Status::Ok();
}

}  // namespace deployrt
