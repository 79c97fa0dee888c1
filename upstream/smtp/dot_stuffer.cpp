// Dot-stuffing and CRLF canonicalisation for the DATA phase (see the header).
#include "upstream/smtp/dot_stuffer.h"

namespace smarthost::upstream::smtp {

void DotStuffer::end_line(std::string& out) {
  out.append("\r\n");
  line_length_ = 0;
}

void DotStuffer::feed(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + bytes.size() + bytes.size() / 64 + 8);
  for (char c : bytes) {
    if (pending_cr_) {
      pending_cr_ = false;
      end_line(out);  // CRLF, or a bare CR that becomes one: never pass a bare CR upstream
      if (c == '\n') continue;
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {  // bare LF
      end_line(out);
      continue;
    }
    if (line_length_ >= kMaxLineOctets) {
      // Fold as Postfix does: CRLF plus a space keeps a header line a valid continuation.
      out.append("\r\n ");
      line_length_ = 1;
    }
    if (line_length_ == 0 && c == '.') {
      out.push_back('.');
      ++line_length_;
    }
    out.push_back(c);
    ++line_length_;
  }
}

void DotStuffer::finish(std::string& out) {
  if (pending_cr_ || line_length_ > 0) end_line(out);
  pending_cr_ = false;
  out.append(".\r\n");
}

}  // namespace smarthost::upstream::smtp
