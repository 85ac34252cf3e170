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

void sort_unique_tensors(std::vector<uint32_t>* tensors) {
  std::sort(tensors->begin(), tensors->end());
  tensors->erase(std::unique(tensors->begin(), tensors->end()), tensors->end());
}

namespace {

std::vector<uint32_t> compute_tensor_crcs(const archive::ArchiveView& view, const std::vector<uint32_t>& tensors,
                                          ThreadPool& pool) {
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
  return computed;
}

}  // namespace

Status verify_tensor_crcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors, ThreadPool& pool) {
  sort_unique_tensors(&tensors);
  return check_tensor_crcs(view, tensors, compute_tensor_crcs(view, tensors, pool));
}

SharedTensorCrcs::SharedTensorCrcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors)
    : view_(view), tensors_(std::move(tensors)) {
  // A tensor is one piece, unless it is larger than kSplitBytes: then it is cut into that
  // many near-equal pieces (on cache lines), so that no piece holds a thread up for long at
  // the end. Each cut costs a crc32c_combine (~25 us: it builds the zero-run operator for
  // the piece's length), so only large tensors are cut.
  constexpr uint64_t kSplitBytes = uint64_t{4} << 20;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t size = view_.tensor(tensors_[i]).nbytes;
    const uint64_t count = (size + kSplitBytes - 1) / kSplitBytes;
    const uint64_t step = count <= 1 ? size : (size / count + 63) / 64 * 64;
    uint64_t offset = 0;
    do {
      const uint64_t bytes = std::min(size - offset, step);
      pieces_.push_back({i, offset, bytes});
      offset += bytes;
    } while (offset < size);
  }
  piece_crcs_.assign(pieces_.size(), 0);
  skipped_ = std::make_unique<std::atomic<bool>[]>(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) skipped_[i].store(false, std::memory_order_relaxed);
}

void SharedTensorCrcs::skip_unwanted(const std::vector<bool>& wanted) {
  for (size_t i = 0; i < tensors_.size() && i < wanted.size(); ++i) {
    if (!wanted[i]) skipped_[i].store(true, std::memory_order_relaxed);
  }
}

void SharedTensorCrcs::work() {
  for (size_t k = next_.fetch_add(1, std::memory_order_relaxed); k < pieces_.size();
       k = next_.fetch_add(1, std::memory_order_relaxed)) {
    const Piece& p = pieces_[k];
    if (skipped_[p.item].load(std::memory_order_relaxed)) continue;
    piece_crcs_[k] = crc32c(view_.tensor_data(tensors_[p.item]) + p.offset, static_cast<size_t>(p.bytes));
  }
}

std::vector<uint32_t> SharedTensorCrcs::computed() const {
  std::vector<uint32_t> crcs(tensors_.size(), 0);
  for (const Piece& p : pieces_) {  // a tensor's pieces are consecutive, in offset order
    if (skipped_[p.item].load(std::memory_order_relaxed)) continue;
    crcs[p.item] = p.offset == 0 ? piece_crcs_[&p - pieces_.data()]
                                 : crc32c_combine(crcs[p.item], piece_crcs_[&p - pieces_.data()], p.bytes);
  }
  return crcs;
}

Status check_tensor_crcs(const archive::ArchiveView& view, const std::vector<uint32_t>& tensors,
                         const std::vector<uint32_t>& computed, const std::vector<bool>& wanted) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!wanted.empty() && !wanted[i]) continue;
    const uint32_t stored = view.tensor_crc(tensors[i]);
    if (computed[i] != stored) {
      const std::string_view name = view.string(view.tensor(tensors[i]).name);
      return Status(ErrorCode::kArchive,
                    str_cat("tensor ", tensors[i], name.empty() ? std::string(" (unnamed)") : str_cat(" '", name, "'"),
                            ": TENSOR_CRCS stores crc ", hex32(stored), ", its ", view.tensor(tensors[i]).nbytes,
                            " bytes have ", hex32(computed[i]), " (corrupt weights)"));
    }
  }
  return Status::Ok();
}

}  // namespace deployrt
