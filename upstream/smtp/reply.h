// SMTP replies as the client reads them: one multi-line reply assembled from its lines, with the enhanced status
// code (RFC 3463) split off when present. No I/O; the connection feeds lines without their CRLF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::upstream::smtp {

struct Reply {
  int code = 0;
  std::string enhanced;            // "5.7.8" when the first line carries one, else ""
  std::vector<std::string> lines;  // the text after "NNN-" / "NNN " of each line (enhanced code kept)
  // "550 5.1.1 text of the first line" (further lines joined by "; "), for logs, DSNs and classification.
  std::string to_string() const;
  // The text without code and enhanced code, lines joined by "; ".
  std::string text() const;
  bool positive() const { return code >= 200 && code < 400; }
};

// Assembles replies line by line. Caps the number of lines so a hostile peer cannot grow it without bound.
class ReplyReader {
 public:
  static constexpr size_t kMaxLines = 200;
  enum class Status { incomplete, complete, malformed };
  // Takes one line without its CRLF.
  Status feed(std::string_view line);
  // The completed reply; the reader is ready for the next one.
  Reply take();

 private:
  Reply current_;
};

// A reply the client makes up itself (e.g. "552 5.3.4 ..." for a message over the upstream's SIZE).
Reply make_reply(int code, std::string_view enhanced, std::string_view text);

}  // namespace smarthost::upstream::smtp
