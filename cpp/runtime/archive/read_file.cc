#include "archive/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/limits.h"
#include "core/str_cat.h"

namespace deployrt {
namespace archive {

Result<size_t> read_whole_file(const std::string& path, AlignedBuffer* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::kIo, str_cat("cannot open '", path, "': ", std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status(ErrorCode::kIo, str_cat("cannot stat '", path, "': ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return Status(ErrorCode::kIo, str_cat("'", path, "' is not a regular file"));
  if (st.st_size == 0) return Status(ErrorCode::kArchive, str_cat("'", path, "' is empty (0 bytes); expected a .dkr archive"));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > limits::kMaxFileBytes) {
    return Status(ErrorCode::kLimit, str_cat("'", path, "' is ", size, " bytes; the limit is ", limits::kMaxFileBytes));
  }
  out->reset(aligned_malloc_or_null(static_cast<size_t>(size)));
  if (!*out) return Status(ErrorCode::kLimit, str_cat("cannot allocate ", size, " bytes to copy '", path, "'"));
  auto* dst = static_cast<uint8_t*>(out->get());
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, dst + done, static_cast<size_t>(size - done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status(ErrorCode::kIo, str_cat("cannot read '", path, "': ", std::strerror(errno)));
    if (got == 0) {
      return Status(ErrorCode::kArchive, str_cat("'", path, "' shrank while being read: ", done, " of ", size,
                                                 " bytes (truncated)"));
    }
    done += static_cast<size_t>(got);
  }
  return Result<size_t>(done);
}

}  // namespace archive
}  // namespace deployrt
