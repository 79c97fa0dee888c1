// Reply assembly and formatting (see the header).
#include "upstream/smtp/reply.h"

#include <cctype>

namespace smarthost::upstream::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of "d.ddd.ddd" at the start of `text` when its class digit is `klass`, else 0.
size_t enhanced_length(std::string_view text, int klass) {
  if (text.size() < 5 || text[0] != static_cast<char>('0' + klass) || text[1] != '.') return 0;
  size_t i = 2;
  size_t digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  digits = 0;
  while (i < text.size() && is_digit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

std::string_view strip_enhanced(std::string_view line, std::string_view enhanced) {
  if (enhanced.empty() || !line.starts_with(enhanced)) return line;
  line.remove_prefix(enhanced.size());
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

}  // namespace

std::string Reply::text() const {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out.append("; ");
    out.append(strip_enhanced(lines[i], enhanced));
  }
  return out;
}

std::string Reply::to_string() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out.append(" ").append(enhanced);
  std::string t = text();
  if (!t.empty()) out.append(" ").append(t);
  return out;
}

ReplyReader::Status ReplyReader::feed(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return Status::malformed;
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return Status::malformed;
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (!current_.lines.empty() && code != current_.code) return Status::malformed;
  if (current_.lines.size() >= kMaxLines) return Status::malformed;
  current_.code = code;
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (current_.lines.empty()) {
    size_t n = enhanced_length(text, code / 100);
    if (n) current_.enhanced = std::string(text.substr(0, n));
  }
  current_.lines.emplace_back(text);
  bool last = line.size() == 3 || line[3] == ' ';
  return last ? Status::complete : Status::incomplete;
}

Reply ReplyReader::take() {
  Reply r = std::move(current_);
  current_ = Reply{};
  return r;
}

Reply make_reply(int code, std::string_view enhanced, std::string_view text) {
  Reply r;
  r.code = code;
  r.enhanced = std::string(enhanced);
  std::string line(enhanced);
  if (!line.empty() && !text.empty()) line.push_back(' ');
  line.append(text);
  r.lines.push_back(std::move(line));
  return r;
}

}  // namespace smarthost::upstream::smtp
