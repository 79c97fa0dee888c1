// A queued message's file for a transport to read: the spool's kept descriptor when it has one
// (mail/content_file.h), else the file opened by path and closed with the reader.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "mail/content_file.h"

namespace smarthost::mail {

class ContentReader {
 public:
  ContentReader(std::shared_ptr<const ContentFile> kept, const std::string& path);
  ~ContentReader();
  ContentReader(const ContentReader&) = delete;
  ContentReader& operator=(const ContentReader&) = delete;

  bool is_open() const { return fd_ >= 0; }
  // Reads up to `limit` bytes at `offset` into `buffer` (not zeroed first), retrying short reads and EINTR: the
  // byte count, less than `limit` only at the end of the file, or -1 on a read error (errno set).
  ssize_t read(uint64_t offset, char* buffer, size_t limit) const;

 private:
  std::shared_ptr<const ContentFile> kept_;
  int fd_;
};

}  // namespace smarthost::mail
