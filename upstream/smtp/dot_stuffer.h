// Encodes message bytes for the SMTP DATA phase: canonical CRLF (a bare CR or LF becomes CRLF), dot-stuffing, and
// folding of any line longer than 998 octets. For a BDAT chunk (RFC 3030) the same without the dots: the chunk's
// length, not a final dot, ends the message. Streaming and allocation-free per byte; it does no I/O itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace smarthost::upstream::smtp {

class DotStuffer {
 public:
  enum class Framing {
    data,  // after DATA: leading dots doubled, ended by ".\r\n"
    bdat,  // inside a BDAT chunk: no dot-stuffing and no terminating dot
  };
  // The longest text line sent, without its CRLF (RFC 5321 4.5.3.1.6).
  static constexpr size_t kMaxLineOctets = 998;

  explicit DotStuffer(Framing framing = Framing::data) : dots_(framing == Framing::data) {}

  // Appends the encoded form of `bytes` to `out`. Input may be split anywhere, even between CR and LF.
  void feed(std::string_view bytes, std::string& out);
  // Closes the stream: ends an open last line with CRLF and, after DATA, appends the terminating ".\r\n".
  void finish(std::string& out);

 private:
  void end_line(std::string& out);
  bool dots_ = true;
  bool pending_cr_ = false;
  size_t line_length_ = 0;  // octets on the current output line, dot included
};

}  // namespace smarthost::upstream::smtp
