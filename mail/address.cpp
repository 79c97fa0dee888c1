// RFC 5321 path parsing (4.1.2): Path, A-d-l source routes, Dot-string and Quoted-string local parts, domains
// and address literals, the 4.5.3.1 size limits, and RFC 6531 UTF-8. No I/O; it does not resolve or judge domains.
#include "mail/address.h"

#include <arpa/inet.h>

namespace smarthost::mail {
namespace {

constexpr size_t kMaxLocal = 64;
constexpr size_t kMaxDomain = 255;
constexpr size_t kMaxPath = 256;  // including the angle brackets
constexpr size_t kMaxLabel = 63;

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool is_atext(unsigned char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// A cursor over the text being parsed, with the UTF-8 permission of the command.
class Parser {
 public:
  Parser(std::string_view text, bool utf8) : s_(text), utf8_(utf8) {}

  bool at_end() const { return i_ >= s_.size(); }
  unsigned char peek() const { return at_end() ? 0 : static_cast<unsigned char>(s_[i_]); }
  size_t pos() const { return i_; }
  void advance() { ++i_; }
  bool eat(char c) {
    if (!at_end() && peek() == static_cast<unsigned char>(c)) {
      ++i_;
      return true;
    }
    return false;
  }
  std::string_view slice(size_t from) const { return s_.substr(from, i_ - from); }
  std::string_view rest() const { return s_.substr(i_); }
  bool eight_bit_ok() const { return utf8_; }

  // sub-domain *("." sub-domain) | address-literal; false on a syntax error.
  bool domain() {
    if (peek() == '[') return address_literal();
    do {
      if (!label()) return false;
    } while (eat('.'));
    return true;
  }

  // Let-dig [Ldh-str]; '_' is tolerated as it appears in real host names. 8-bit bytes are U-label text.
  bool label() {
    const size_t start = i_;
    while (!at_end()) {
      const unsigned char c = peek();
      if (is_alpha(c) || is_digit(c) || c == '-' || c == '_' || (c >= 0x80 && utf8_)) {
        ++i_;
      } else {
        break;
      }
    }
    const std::string_view l = slice(start);
    return !l.empty() && l.size() <= kMaxLabel && l.front() != '-' && l.back() != '-';
  }

  bool address_literal() {
    const size_t start = i_;
    if (!eat('[')) return false;
    while (!at_end() && peek() != ']') {
      const unsigned char c = peek();
      // dcontent = %d33-90 / %d94-126
      if (c < 33 || c > 126 || c == '[' || c == '\\') return false;
      ++i_;
    }
    if (!eat(']')) return false;
    const std::string_view inner = s_.substr(start + 1, i_ - start - 2);
    if (inner.empty()) return false;
    char buf[16];
    if (inner.size() > 5 && iequals(inner.substr(0, 5), "IPv6:")) {
      const std::string v6(inner.substr(5));
      return inet_pton(AF_INET6, v6.c_str(), buf) == 1;
    }
    if (is_digit(static_cast<unsigned char>(inner.front()))) {
      const std::string v4(inner);
      return inet_pton(AF_INET, v4.c_str(), buf) == 1;
    }
    // General-address-literal: Standardized-tag ":" 1*dcontent
    const size_t colon = inner.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == inner.size()) return false;
    for (char ch : inner.substr(0, colon)) {
      const auto c = static_cast<unsigned char>(ch);
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    }
    return true;
  }

  // Dot-string / Quoted-string.
  bool local_part() {
    if (peek() == '"') return quoted_string();
    do {
      const size_t start = i_;
      while (!at_end() && (is_atext(peek()) || (peek() >= 0x80 && utf8_))) ++i_;
      if (i_ == start) return false;
    } while (eat('.'));
    return true;
  }

  bool quoted_string() {
    if (!eat('"')) return false;
    while (!at_end()) {
      const unsigned char c = peek();
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == '\\') {
        ++i_;
        const unsigned char q = peek();
        if (at_end() || q < 32 || q > 126) return false;  // quoted-pairSMTP = %d92 %d32-126
        ++i_;
        continue;
      }
      // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 with SMTPUTF8
      if ((c >= 32 && c <= 126) || (c >= 0x80 && utf8_)) {
        ++i_;
        continue;
      }
      return false;
    }
    return false;
  }

 private:
  std::string_view s_;
  bool utf8_;
  size_t i_ = 0;
};

PathParse fail(PathError e) {
  PathParse r;
  r.error = e;
  return r;
}

}  // namespace

std::string Path::address() const {
  if (null) return {};
  if (domain.empty()) return local;
  std::string a;
  a.reserve(local.size() + 1 + domain.size());
  a += local;
  a += '@';
  a += domain;
  return a;
}

PathParse parse_path(std::string_view text, bool allow_null, bool utf8) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.empty() || text.front() != '<') return fail(PathError::syntax);

  // Find the end of the path first so that 8-bit bytes are judged before the syntax: '>' may appear inside a
  // quoted local part, so skip quoted strings while looking for it.
  size_t close = std::string_view::npos;
  {
    bool quoted = false;
    for (size_t i = 1; i < text.size(); ++i) {
      const char c = text[i];
      if (quoted) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == '>') {
        close = i;
        break;
      }
    }
  }
  if (close == std::string_view::npos) return fail(PathError::syntax);
  const std::string_view inner = text.substr(1, close - 1);
  bool eight_bit = false;
  for (char c : inner)
    if (static_cast<unsigned char>(c) >= 0x80) eight_bit = true;
  if (eight_bit && !utf8) return fail(PathError::not_ascii);
  if (eight_bit && !valid_utf8(inner)) return fail(PathError::syntax);

  PathParse r;
  r.rest = text.substr(close + 1);
  if (!r.rest.empty() && r.rest.front() != ' ') return fail(PathError::syntax);

  if (inner.empty()) {
    if (!allow_null) return fail(PathError::syntax);
    r.path.null = true;
    return r;
  }
  // RFC 5321 4.5.1: "postmaster" without a domain is a valid forward-path.
  if (!allow_null && iequals(inner, "postmaster")) {
    r.path.local = std::string(inner);
    return r;
  }

  Parser p(inner, utf8);
  if (p.peek() == '@') {
    // A-d-l = At-domain *( "," At-domain ) ":"  -- accepted and ignored (RFC 5321 4.1.1.3, C)
    do {
      if (!p.eat('@') || !p.domain()) return fail(PathError::syntax);
    } while (p.eat(','));
    if (!p.eat(':')) return fail(PathError::syntax);
    r.path.has_route = true;
  }
  const size_t local_start = p.pos();
  if (!p.local_part()) return fail(PathError::syntax);
  const std::string_view local = p.slice(local_start);
  if (!p.eat('@')) return fail(PathError::syntax);
  const size_t domain_start = p.pos();
  if (!p.domain()) return fail(PathError::syntax);
  const std::string_view domain = p.slice(domain_start);
  if (!p.at_end()) return fail(PathError::syntax);

  if (local.size() > kMaxLocal) return fail(PathError::local_too_long);
  if (domain.size() > kMaxDomain) return fail(PathError::domain_too_long);
  if (inner.size() + 2 > kMaxPath) return fail(PathError::path_too_long);

  r.path.local = std::string(local);
  r.path.domain = std::string(domain);
  return r;
}

std::string domain_of(std::string_view address) {
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string d(address.substr(at + 1));
  for (char& c : d) c = lower(c);
  return d;
}

}  // namespace smarthost::mail
