// Encodes message bytes for the SMTP DATA phase: canonical CRLF (a bare CR or LF becomes CRLF), dot-stuffing, and
// folding of any line longer than 998 octets. Streaming and allocation-free per byte; it does no I/O itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smarthost::upstream::smtp {

class DotStuffer {
 public:
  // The longest text line sent, without its CRLF (RFC 5321 4.5.3.1.6).
  static constexpr size_t kMaxLineOctets = 998;

  // Appends the encoded form of `bytes` to `out`. Input may be split anywhere, even between CR and LF.
  void feed(std::string_view bytes, std::string& out);
  // Closes the stream: ends an open last line with CRLF and appends the terminating ".\r\n".
  void finish(std::string& out);
  // Ready for a new message.
  void reset() { *this = DotStuffer{}; }

 private:
  void end_line(std::string& out);
  bool pending_cr_ = false;
  size_t line_length_ = 0;  // octets on the current output line, dot included
};

}  // namespace smarthost::upstream::smtp
