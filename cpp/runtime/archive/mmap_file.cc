#include "archive/mmap_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/limits.h"

namespace deployrt {
namespace archive {
namespace {

Status io_error(const std::string& what, const std::string& path, int err) {
  return Status(ErrorCode::kIo, what + " '" + path + "': " + std::strerror(err));
}

// Closes the descriptor on every path out of open(); the mapping outlives it.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

MmapFile::~MmapFile() { reset(); }

MmapFile::MmapFile(MmapFile&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MmapFile& MmapFile::operator=(MmapFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void MmapFile::reset() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

Result<MmapFile> MmapFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path, errno);
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kIo, "'" + path + "' is not a regular file");
  if (st.st_size == 0) return Status(ErrorCode::kArchive, "'" + path + "' is empty (0 bytes); expected a .dkr archive");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > limits::kMaxFileBytes) {
    return Status(ErrorCode::kLimit, "'" + path + "' is " + std::to_string(size) + " bytes; the limit is " +
                                         std::to_string(limits::kMaxFileBytes));
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return io_error("cannot mmap", path, errno);
  MmapFile file;
  file.data_ = static_cast<const uint8_t*>(p);
  file.size_ = static_cast<size_t>(size);
  return Result<MmapFile>(std::move(file));
}

void MmapFile::release_resident_pages() const {
  // Advisory: a failure only means the pages stay resident.
  if (data_ == nullptr || size_ == 0) return;
#ifdef MADV_NOHUGEPAGE
  // From now on a read must fault back only the pages around it. Otherwise the kernel maps
  // the page cache's large folios whole: one 4 KB bias read (or a weight being packed)
  // brings back up to 2 MB of weights already packed away, and peak memory with them.
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_NOHUGEPAGE);
#endif
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_DONTNEED);
}

void MmapFile::release_resident_pages_except(std::vector<std::pair<const void*, size_t>> keep) const {
  if (keep.empty()) return release_resident_pages();
  if (data_ == nullptr || size_ == 0) return;
#ifdef MADV_NOHUGEPAGE
  ::madvise(const_cast<uint8_t*>(data_), size_, MADV_NOHUGEPAGE);  // as in release_resident_pages
#endif
  std::sort(keep.begin(), keep.end());
  // Release the gaps between kept ranges: release_resident_range drops only the pages
  // wholly inside a gap, so a page shared with a kept range stays.
  const uint8_t* cursor = data_;
  for (const auto& [p, bytes] : keep) {
    const auto* begin = static_cast<const uint8_t*>(p);
    if (begin < data_ || begin > data_ + size_) continue;
    if (begin > cursor) release_resident_range(cursor, static_cast<size_t>(begin - cursor));
    const uint8_t* end = begin + std::min(bytes, static_cast<size_t>(data_ + size_ - begin));
    if (end > cursor) cursor = end;
  }
  if (cursor < data_ + size_) release_resident_range(cursor, static_cast<size_t>(data_ + size_ - cursor));
}

void MmapFile::touch_range(const void* p, size_t bytes) const {
  const auto* begin = static_cast<const uint8_t*>(p);
  if (data_ == nullptr || begin < data_ || bytes > size_ || static_cast<size_t>(begin - data_) > size_ - bytes) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  uint8_t sum = 0;
  for (size_t at = 0; at < bytes; at += page) sum ^= static_cast<const volatile uint8_t*>(begin)[at];
  if (bytes > 0) sum ^= static_cast<const volatile uint8_t*>(begin)[bytes - 1];
  (void)sum;
}

void MmapFile::release_resident_range(const void* p, size_t bytes) const {
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const auto map_begin = reinterpret_cast<uintptr_t>(data_);
  if (data_ == nullptr || begin < map_begin || bytes > size_ || begin - map_begin > size_ - bytes) return;
  // Only pages wholly inside the range: neighbours may still be in use (they would be
  // faulted back in anyway, but there is no reason to make them).
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + bytes) / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace archive
}  // namespace deployrt
