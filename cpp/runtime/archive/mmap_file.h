// Read-only memory map of a whole file (RAII). The map is private and read-only, so the
// runtime never writes to it; if another process truncates the file while it is mapped,
// touching the lost pages raises SIGBUS: that is the OS contract of mmap, documented in
// docs, and callers that cannot rule it out can load a copy instead (load from memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "deployrt/deployrt.h"

namespace deployrt {
namespace archive {

class MmapFile {
 public:
  MmapFile() = default;
  ~MmapFile();
  MmapFile(MmapFile&& other) noexcept;
  MmapFile& operator=(MmapFile&& other) noexcept;
  MmapFile(const MmapFile&) = delete;
  MmapFile& operator=(const MmapFile&) = delete;

  /// Opens and maps `path`. An unopenable or unmappable file is kIo; an empty file or
  /// a file above limits::kMaxFileBytes is kArchive / kLimit (mmap of 0 bytes is
  /// not an I/O failure, it is a broken archive).
  static Result<MmapFile> open(const std::string& path);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  /// Drops the mapped pages from this process's resident set (madvise MADV_DONTNEED).
  /// Safe because the map is read-only and file-backed: a later read faults the page
  /// back in from the page cache with the same bytes. Called after load, once the
  /// checksums were verified and the weights packed, so the process does not keep a
  /// second resident copy of weights it now reads from its packed buffers.
  void release_resident_pages() const;
  /// The same, except the pages that overlap one of the `keep` ranges (p, bytes) inside
  /// the map: weights the kernels read in place (format 1.4 PACKED_WEIGHTS) stay resident.
  void release_resident_pages_except(std::vector<std::pair<const void*, size_t>> keep) const;
  /// The same for the whole pages inside [p, p + bytes) (p must lie in the map).
  void release_resident_range(const void* p, size_t bytes) const;
  /// Maps the pages of [p, p + bytes) now, by reading a byte of each. A fault maps a whole
  /// page-cache folio (up to 2 MB) around the page: so a range read at run time is faulted
  /// in before the loader's last release_resident_pages_except (which keeps it), not after.
  void touch_range(const void* p, size_t bytes) const;

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace archive
}  // namespace deployrt
