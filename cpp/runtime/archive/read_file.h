// Copy-on-load: reads a whole file into a 64-byte aligned heap buffer with read(2).
// Unlike a memory map, a file truncated or rewritten by another process while it is
// being read gives a short read (a typed error), never SIGBUS, and later changes to
// the file cannot affect the loaded module.
#pragma once

#include <cstddef>
#include <string>

#include "core/aligned_alloc.h"
#include "deployrt/deployrt.h"

namespace deployrt {
namespace archive {

/// Reads `path` into *out; returns the byte count. kIo when unreadable, kArchive when
/// empty or when the file shrinks while being read, kLimit above limits::kMaxFileBytes
/// or when the buffer cannot be allocated.
Result<size_t> read_whole_file(const std::string& path, AlignedBuffer* out);

}  // namespace archive
}  // namespace deployrt
