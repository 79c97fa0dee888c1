// Incremental decoder for a DATA body (dot mode) or the BDAT chunks of one message (chunk mode), with no I/O.
// Only <CRLF>.<CRLF> ends DATA (RFC 5321 4.1.1.4); bare CR and LF are rejected or normalised (SMTP smuggling);
// dot-unstuffing; the size cap is enforced while reading. It does not parse MIME or headers beyond their end.
//
// Line ends: the output always uses CRLF. A bare CR or LF is written as CRLF in both modes; with
// BareLineEnd::reject it is also remembered (outcome().bare_line_end) and the message must be refused.
// Only a real CRLF (or the start of data) starts a line for the terminator and for dot-unstuffing, so none of
// "\n.\n", "\n.\r\n", "\r.\n", "\r.\r\n", "\r\n\0.\r\n" ends the message; a dot after a bare line end is data.
// Long lines: a line over 998 octets (RFC 5322 2.1.1) is folded by inserting CRLF after each 998 octets; in the
// header section (before the first empty line) the inserted break is CRLF followed by one space, so the header
// field continues instead of turning the rest into body or a bogus header.
// Size: outcome().size counts output octets; past max_size nothing more is appended, but input is still consumed
// to the end of the message, and outcome().too_big is set.
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

  // Chunk mode: the message's last octet has been fed (after BDAT ... LAST): a CR still pending is a bare CR.
  // Keep one reader for all the chunks of a message and call this only after the LAST one, so a CR ending one
  // chunk and an LF starting the next make one CRLF. (Calling it after every chunk is safe, but such a split
  // CRLF then counts as bare line ends.)
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
  // Line-start and terminator tracking (see data_reader.cpp for the states).
  int state_ = 0;
  uint32_t line_length_ = 0;  // octets on the current output line
  bool in_headers_ = true;
  void emit(std::string& out, std::string_view bytes);
  void emit_text(std::string& out, std::string_view text);  // line content, folded past 998 octets
  void end_line(std::string& out, bool bare);               // writes CRLF for a real or bare line end
};

}  // namespace smarthost::smtpd
