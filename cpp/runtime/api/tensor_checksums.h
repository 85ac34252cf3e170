// Checking the per-tensor CRCs of a format 1.5 archive (TENSOR_CRCS) at load.
//
// A prepacked archive keeps each conv/linear weight twice: raw (for other ISA levels and
// tools) and packed for one ISA level. A Module that uses the packed bytes in place never
// reads the raw copy, so it checks only the tensors it reads, each against its own CRC,
// instead of the whole WEIGHTS section: less to read, and the unread pages are never
// faulted in. The check spreads the bytes evenly over the pool (a large tensor is split
// and its pieces joined with crc32c_combine), as parallel_crc32c does for a section.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "archive/reader.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

/// Checks tensor_crc(i) of every tensor index in `tensors` (a view with has_tensor_crcs();
/// duplicates are checked once). kArchive naming the tensor (index and name), the stored
/// and the computed CRC on the first mismatch in index order.
Status verify_tensor_crcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors, ThreadPool& pool);

/// Sorts `tensors` and drops duplicates: the order SharedTensorCrcs and check_tensor_crcs use.
void sort_unique_tensors(std::vector<uint32_t>* tensors);

/// kArchive, as verify_tensor_crcs reports it, for the first tensor (in `tensors` order)
/// whose `computed` CRC differs from its tensor_crc, among those `wanted` (every one when
/// `wanted` is empty).
Status check_tensor_crcs(const archive::ArchiveView& view, const std::vector<uint32_t>& tensors,
                         const std::vector<uint32_t>& computed, const std::vector<bool>& wanted = {});

/// The CRCs of some tensors, computed by whichever threads call work(), at the same time or
/// one after another: at load, a worker started with ThreadPool::run_async and, once it has
/// prepared the ops, the loading thread. Each tensor (a large one cut in a few) is a piece
/// that one work() claims, until none is left; computed() joins a tensor's pieces, once
/// every work() has returned.
class SharedTensorCrcs {
 public:
  /// `tensors` sorted and unique (sort_unique_tensors).
  SharedTensorCrcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors);
  SharedTensorCrcs(const SharedTensorCrcs&) = delete;
  SharedTensorCrcs& operator=(const SharedTensorCrcs&) = delete;

  void work();
  /// From now on, work() skips the pieces of tensors()[i] not `wanted` (wanted[i] false):
  /// for a caller that learns, while the CRCs are being computed, that it will not read
  /// some of them. Their computed() CRCs are then meaningless.
  void skip_unwanted(const std::vector<bool>& wanted);
  const std::vector<uint32_t>& tensors() const { return tensors_; }
  /// One CRC per tensors()[i].
  std::vector<uint32_t> computed() const;

 private:
  struct Piece {
    size_t item;  // index into tensors_
    uint64_t offset, bytes;
  };
  const archive::ArchiveView& view_;
  std::vector<uint32_t> tensors_;
  std::vector<Piece> pieces_;
  std::vector<uint32_t> piece_crcs_;  // written by the thread that claimed the piece
  std::unique_ptr<std::atomic<bool>[]> skipped_;  // per tensor
  std::atomic<size_t> next_{0};
};

}  // namespace deployrt
