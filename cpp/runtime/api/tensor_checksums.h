// Checking the per-tensor CRCs of a format 1.5 archive (TENSOR_CRCS) at load.
//
// A prepacked archive keeps each conv/linear weight twice: raw (for other ISA levels and
// tools) and packed for one ISA level. A Module that uses the packed bytes in place never
// reads the raw copy, so it checks only the tensors it reads, each against its own CRC,
// instead of the whole WEIGHTS section: less to read, and the unread pages are never
// faulted in. The check spreads the bytes evenly over the pool (a large tensor is split
// and its pieces joined with crc32c_combine), as parallel_crc32c does for a section.
#pragma once

#include <cstdint>
#include <vector>

#include "archive/reader.h"
#include "threadpool/thread_pool.h"

namespace deployrt {

/// Checks tensor_crc(i) of every tensor index in `tensors` (a view with has_tensor_crcs();
/// duplicates are checked once). kArchive naming the tensor (index and name), the stored
/// and the computed CRC on the first mismatch in index order.
Status verify_tensor_crcs(const archive::ArchiveView& view, std::vector<uint32_t> tensors, ThreadPool& pool);

}  // namespace deployrt
