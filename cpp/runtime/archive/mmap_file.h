// Read-only memory map of a whole file (RAII). The map is private and read-only, so the
// runtime never writes to it; if another process truncates the file while it is mapped,
// touching the lost pages raises SIGBUS: that is the OS contract of mmap, documented in
// docs, and callers that cannot rule it out can load a copy instead (load from memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace archive
}  // namespace deployrt
