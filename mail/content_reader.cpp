// ContentReader: the kept descriptor or an open by path, and reads that retry until done.
#include "mail/content_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace smarthost::mail {

ContentReader::ContentReader(std::shared_ptr<const ContentFile> kept, const std::string& path)
    : kept_(std::move(kept)), fd_(kept_ ? kept_->fd() : ::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}

ContentReader::~ContentReader() {
  if (fd_ >= 0 && !kept_) ::close(fd_);
}

ssize_t ContentReader::read(uint64_t offset, char* buffer, size_t limit) const {
  size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::pread(fd_, buffer + got, limit - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

}  // namespace smarthost::mail
