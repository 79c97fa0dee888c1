// The durable message store. smtpd streams each accepted message into a SpoolWriter; the scheduler reads them back.
// Contract: commit() completes only after the message and its envelope are on disk and fsynced.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "mail/envelope.h"

namespace smarthost::queue {

// Short, unique, sortable queue id (time-ordered), e.g. "0T9XK2M4B7QF".
using QueueId = std::string;

struct CommitResult {
  std::error_code error;  // set when the message could not be made durable (disk full: ENOSPC, EIO, ...)
  QueueId id;             // set on success
};

// One message being received. Not thread-safe; owned by one SMTP session.
class SpoolWriter {
 public:
  virtual ~SpoolWriter() = default;  // an uncommitted writer removes its temporary file
  // Appends message bytes (unstuffed, CRLF line ends). A write error is remembered and reported by commit().
  virtual void append(std::string_view bytes) = 0;
  // Appending in place, for a decoder: append_buffer() is a string to add message bytes to the end of, and
  // appended() must follow with the size it had before. FsSpoolWriter hands out its own write buffer, so bytes go
  // from the socket's read buffer into the spool's with no copy in between. The default collects and append()s.
  virtual std::string& append_buffer() { return scratch_; }
  virtual void appended(size_t before) {
    append(std::string_view(scratch_).substr(before));
    scratch_.clear();
  }
  // Bytes appended so far.
  virtual uint64_t size() const = 0;
  // Makes the message durable together with its envelope (group commit) and hands it to the scheduler.
  // Completes only after fsync; never throws for I/O errors.
  virtual boost::asio::awaitable<CommitResult> commit(const mail::Envelope& envelope) = 0;
  // The id this message will have once committed (it also names the temporary file); for Received: headers.
  virtual const QueueId& id() const = 0;

 private:
  std::string scratch_;  // the default append_buffer()
};

class Spool {
 public:
  virtual ~Spool() = default;
  // Starts a new message. Returns null with `error` set when no temporary file can be created.
  virtual std::unique_ptr<SpoolWriter> begin(std::error_code& error) = 0;
};

}  // namespace smarthost::queue
