// Incremental decoder for a DATA body (dot mode) or BDAT chunk (chunk mode), with no I/O.
// Only <CRLF>.<CRLF> ends DATA (RFC 5321 4.1.1.4); bare CR and LF are rejected or normalised (SMTP smuggling);
// dot-unstuffing; lines over 998 octets are folded; the size cap is enforced while reading.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "smtpd/session.h"

namespace smarthost::smtpd {

class DataReader {
 public:
  enum class Mode { dot, chunk };

  // `already` counts octets of earlier BDAT chunks of the same message toward max_size.
  DataReader(Mode mode, BareLineEnd bare_lf, uint64_t max_size, uint64_t already = 0);

  // Consumes input and appends decoded message bytes (CRLF line ends) to `out`.
  // Returns how many input bytes were consumed. In dot mode, consumption stops right after the terminating
  // <CRLF>.<CRLF>, so the caller keeps any pipelined bytes that follow for the command reader.
  // Once the size cap is passed, input is still consumed but nothing more is appended.
  size_t feed(std::string_view in, std::string& out);

  // Chunk mode: the chunk's last octet has been fed (flushes a pending CR: a bare CR at a chunk end).
  void finish_chunk(std::string& out);

  bool done() const { return done_; }  // dot mode: the terminator was seen
  DataOutcome outcome() const;

 private:
  Mode mode_;
  BareLineEnd bare_lf_;
  uint64_t max_size_;
  uint64_t size_;
  bool done_ = false;
  bool too_big_ = false;
  bool bare_ = false;
  // Line-start and terminator tracking.
  int state_ = 0;
  uint32_t line_length_ = 0;
  bool in_headers_ = true;
  void emit(std::string& out, std::string_view bytes);
};

}  // namespace smarthost::smtpd
