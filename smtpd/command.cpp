// SMTP command-line parsing: verbs, ESMTP parameters, BDAT and AUTH arguments, base64.
// Pure functions over string_views; nothing here allocates except the decoded base64 and error keywords.
#include "smtpd/command.h"

#include <array>
#include <cctype>

namespace smarthost::smtpd {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Next space-separated word of `s`, removing it (and the spaces after it) from `s`.
std::string_view next_word(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t') ++n;
  std::string_view word = s.substr(0, n);
  s.remove_prefix(n);
  s = trim_spaces(s);
  return word;
}

struct VerbName {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbName, 19> kVerbs{{
    {"EHLO", Verb::ehlo},     {"HELO", Verb::helo},         {"MAIL", Verb::mail},   {"RCPT", Verb::rcpt},
    {"DATA", Verb::data},     {"BDAT", Verb::bdat},         {"RSET", Verb::rset},   {"NOOP", Verb::noop},
    {"QUIT", Verb::quit},     {"VRFY", Verb::vrfy},         {"EXPN", Verb::expn},   {"HELP", Verb::help},
    {"STARTTLS", Verb::starttls}, {"AUTH", Verb::auth},     {"GET", Verb::http},    {"POST", Verb::http},
    {"CONNECT", Verb::http},  {"HEAD", Verb::http},         {"PUT", Verb::http},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
bool valid_keyword(std::string_view k) {
  if (k.empty() || !is_alnum(k.front())) return false;
  for (char c : k)
    if (!is_alnum(c) && c != '-') return false;
  return true;
}

// esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531)
bool valid_value(std::string_view v) {
  if (v.empty()) return false;
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 33 || c == '=' || c == 127) return false;
  }
  return true;
}

std::optional<uint64_t> parse_decimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string upper_string(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

MailParameterParse parse_parameters(std::string_view text, bool mail) {
  MailParameterParse r;
  bool seen_size = false, seen_body = false, seen_utf8 = false, seen_auth = false;
  text = trim_spaces(text);
  while (!text.empty()) {
    std::string_view param = next_word(text);
    const size_t eq = param.find('=');
    std::string_view keyword = param.substr(0, eq);
    const bool has_value = eq != std::string_view::npos;
    std::string_view value = has_value ? param.substr(eq + 1) : std::string_view{};
    r.keyword = upper_string(keyword);
    if (!valid_keyword(keyword) || (has_value && !valid_value(value))) {
      r.error = ParamError::malformed;
      return r;
    }
    auto fail = [&](ParamError e) {
      r.error = e;
      return r;
    };
    if (!mail) return fail(ParamError::unknown);
    if (iequals(keyword, "SIZE")) {
      if (seen_size || !has_value) return fail(ParamError::malformed);
      auto size = parse_decimal(value, 20);
      if (!size) return fail(ParamError::malformed);
      r.params.size = *size;
      seen_size = true;
    } else if (iequals(keyword, "BODY")) {
      if (seen_body || !has_value) return fail(ParamError::malformed);
      if (iequals(value, "7BIT")) {
        r.params.body = mail::BodyType::seven_bit;
      } else if (iequals(value, "8BITMIME")) {
        r.params.body = mail::BodyType::eight_bit_mime;
      } else {
        return fail(ParamError::malformed);  // BINARYMIME is not offered
      }
      seen_body = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
      if (seen_utf8 || has_value) return fail(ParamError::malformed);
      r.params.smtputf8 = true;
      seen_utf8 = true;
    } else if (iequals(keyword, "AUTH")) {
      // RFC 4954 5: accepted and ignored; the identity is the authenticated user, never the client's claim.
      if (seen_auth || !has_value) return fail(ParamError::malformed);
      seen_auth = true;
    } else {
      return fail(ParamError::unknown);
    }
  }
  r.keyword.clear();
  return r;
}

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

CommandLine parse_command(std::string_view line) {
  CommandLine cmd;
  size_t n = 0;
  while (n < line.size() && line[n] != ' ' && line[n] != '\t') ++n;
  const std::string_view verb = line.substr(0, n);
  for (const auto& v : kVerbs) {
    if (iequals(verb, v.name)) {
      cmd.verb = v.verb;
      break;
    }
  }
  cmd.argument = trim_spaces(line.substr(n));
  return cmd;
}

std::optional<std::string_view> after_keyword(std::string_view argument, std::string_view keyword) {
  if (argument.size() < keyword.size() || !iequals(argument.substr(0, keyword.size()), keyword)) return std::nullopt;
  argument.remove_prefix(keyword.size());
  while (!argument.empty() && argument.front() == ' ') argument.remove_prefix(1);
  return argument;
}

MailParameterParse parse_mail_parameters(std::string_view text) { return parse_parameters(text, true); }

MailParameterParse parse_rcpt_parameters(std::string_view text) { return parse_parameters(text, false); }

std::optional<BdatArguments> parse_bdat(std::string_view argument) {
  std::string_view rest = trim_spaces(argument);
  const std::string_view size_word = next_word(rest);
  auto size = parse_decimal(size_word, 20);
  if (!size) return std::nullopt;
  BdatArguments args;
  args.size = *size;
  if (!rest.empty()) {
    const std::string_view last = next_word(rest);
    if (!iequals(last, "LAST") || !rest.empty()) return std::nullopt;
    args.last = true;
  }
  return args;
}

std::optional<AuthArguments> parse_auth(std::string_view argument) {
  std::string_view rest = trim_spaces(argument);
  AuthArguments args;
  args.mechanism = next_word(rest);
  if (args.mechanism.empty()) return std::nullopt;
  if (!rest.empty()) {
    args.initial_response = next_word(rest);
    if (!rest.empty()) return std::nullopt;
  }
  return args;
}

std::optional<std::string> decode_base64(std::string_view text) {
  // Padding is optional, but when present it is one or two '=' that complete a group of four.
  size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 2 || (padding > 0 && (text.size() + padding) % 4 != 0)) return std::nullopt;
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // The unused low bits of the last character must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string encode_base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace smarthost::smtpd
