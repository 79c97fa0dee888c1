// Reply lines and the Received: header. The header's words are folded greedily at spaces (never inside a word),
// with each clause of the trace (from, using, by, for) starting on its own line as Postfix does.
#include "smtpd/reply.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace smarthost::smtpd {
namespace {

constexpr size_t kFoldColumn = 78;

// Characters of a client-supplied name that are safe inside a Received: clause: printable ASCII without the
// comment delimiters and the escape character. Everything else (controls, 8-bit bytes) becomes '?'.
std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool safe = c > 0x20 && c < 0x7F && c != '(' && c != ')' && c != '\\';
    out.push_back(safe ? ch : '?');
  }
  return out.empty() ? std::string("unknown") : out;
}

// The client's address as an RFC 5321 address literal, or "unix".
std::string address_literal(std::string_view address) {
  if (address.empty()) return "unknown";
  if (address == "unix") return "unix";
  if (address.find(':') != std::string_view::npos) return "[IPv6:" + sanitize(address) + "]";
  return "[" + sanitize(address) + "]";
}

// Appends the words of one clause, folding before a word that would pass the fold column.
void append_clause(std::string& out, size_t& column, std::string_view clause, bool new_line) {
  if (new_line) {
    out += "\r\n\t";
    column = 8;
  }
  bool first = true;
  while (!clause.empty()) {
    const size_t space = clause.find(' ');
    const std::string_view word = clause.substr(0, space);
    clause = space == std::string_view::npos ? std::string_view{} : clause.substr(space + 1);
    if (word.empty()) continue;
    if (!first && column + 1 + word.size() > kFoldColumn) {
      out += "\r\n\t";
      column = 8;
    } else if (!first) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
  }
}

}  // namespace

std::string reply_line(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 2);
  for (char c : line) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  out += "\r\n";
  return out;
}

std::string multiline_reply(int code, const std::vector<std::string>& lines) {
  std::string out;
  const std::string prefix = std::to_string(code);
  for (size_t i = 0; i < lines.size(); ++i) {
    out += prefix;
    out += (i + 1 == lines.size()) ? ' ' : '-';
    out += lines[i];
    out += "\r\n";
  }
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[static_cast<size_t>(tm.tm_wday) % 7],
                tm.tm_mday, kMonths[static_cast<size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string_view received_protocol(bool esmtp, bool utf8, bool tls, bool auth) {
  if (!esmtp) return "SMTP";
  static constexpr std::array<std::string_view, 8> kNames{"ESMTP",    "ESMTPA",    "ESMTPS",    "ESMTPSA",
                                                          "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"};
  return kNames[(utf8 ? 4 : 0) + (tls ? 2 : 0) + (auth ? 1 : 0)];
}

std::string format_received(const ReceivedFields& f) {
  std::string out = "Received:";
  size_t column = out.size();
  out += ' ';
  ++column;
  append_clause(out, column, "from " + sanitize(f.helo) + " (" + address_literal(f.client_address) + ")", false);
  if (!f.tls_version.empty()) {
    append_clause(out, column, "(using " + sanitize(f.tls_version) + " with cipher " + sanitize(f.tls_cipher) + ")",
                  true);
  }
  append_clause(out, column,
                "by " + sanitize(f.hostname) + " (smarthost) with " + std::string(f.protocol) + " id " +
                    sanitize(f.queue_id) + (f.recipient.empty() ? ";" : ""),
                true);
  std::string tail;
  if (!f.recipient.empty()) tail = "for <" + std::string(f.recipient) + ">; ";
  tail += rfc5322_date(f.when);
  append_clause(out, column, tail, true);
  out += "\r\n";
  return out;
}

}  // namespace smarthost::smtpd
