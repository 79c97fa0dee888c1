// SMTP command-line parsing for the server: the verb, MAIL/RCPT parameters (RFC 5321 4.1.2, 1870, 6152, 6531),
// BDAT arguments (RFC 3030) and AUTH arguments and base64 payloads (RFC 4954). No I/O and no session state:
// the session decides what each parse result means for the reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mail/envelope.h"

namespace smarthost::smtpd {

enum class Verb {
  ehlo, helo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth,
  http,     // GET, POST, CONNECT, HEAD, PUT: someone is talking HTTP or proxy to the SMTP port
  unknown,
};

struct CommandLine {
  Verb verb = Verb::unknown;
  std::string_view argument;  // what follows the verb and its spaces, trailing spaces removed
  bool has_argument() const { return !argument.empty(); }
};

// Splits a command line (without CRLF) into verb and argument. Verbs are case-insensitive.
CommandLine parse_command(std::string_view line);

// If `argument` starts with `keyword` (case-insensitive, e.g. "FROM:"), returns what follows it with leading
// spaces removed ("MAIL FROM: <a@b>" is accepted as sent by many clients).
std::optional<std::string_view> after_keyword(std::string_view argument, std::string_view keyword);

enum class ParamError {
  none,
  unknown,    // a parameter we do not implement: 555 5.5.4
  malformed,  // bad syntax, bad value or a repeated parameter: 501 5.5.4
};

struct MailParameters {
  std::optional<uint64_t> size;  // SIZE=
  mail::BodyType body = mail::BodyType::seven_bit;
  bool smtputf8 = false;
};

struct MailParameterParse {
  MailParameters params;
  ParamError error = ParamError::none;
  std::string keyword;  // the offending parameter's keyword, upper-cased
};

// The ESMTP parameters after a MAIL FROM path: SIZE, BODY=7BIT|8BITMIME, SMTPUTF8, AUTH= (accepted, ignored).
MailParameterParse parse_mail_parameters(std::string_view text);

// The ESMTP parameters after a RCPT TO path. None are implemented (no DSN), so any parameter is unknown.
MailParameterParse parse_rcpt_parameters(std::string_view text);

struct BdatArguments {
  uint64_t size = 0;
  bool last = false;
};

// "BDAT <size> [LAST]"; nullopt on bad syntax (the chunk cannot be skipped then).
std::optional<BdatArguments> parse_bdat(std::string_view argument);

struct AuthArguments {
  std::string_view mechanism;        // as sent; compare case-insensitively
  std::optional<std::string_view> initial_response;  // "=" stands for an empty response
};

// "AUTH <mechanism> [initial-response]"; nullopt on bad syntax (no mechanism, or extra words).
std::optional<AuthArguments> parse_auth(std::string_view argument);

// Strict base64 (RFC 4648, padding optional); nullopt on any other character or a bad length.
std::optional<std::string> decode_base64(std::string_view text);
std::string encode_base64(std::string_view bytes);

bool iequals(std::string_view a, std::string_view b);

}  // namespace smarthost::smtpd
