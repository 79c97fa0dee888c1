// RFC 5321 path parsing: reverse-path and forward-path syntax, length limits, quoted local parts, source routes.
// No I/O. Used by smtpd/ for MAIL and RCPT and by policy/ for relay checks.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smarthost::mail {

struct Path {
  std::string local;   // as written, quotes included when quoted
  std::string domain;  // empty only for the null path and for "postmaster"
  bool null = false;   // <>
  bool has_route = false;  // a source route <@a,@b:user@c> was given and ignored
  std::string address() const;  // "local@domain", "" for the null path
};

enum class PathError { none, syntax, local_too_long, domain_too_long, path_too_long, not_ascii };

struct PathParse {
  Path path;
  PathError error = PathError::none;
  std::string_view rest;  // what follows the closing '>' (the ESMTP parameters)
};

// Parses "<...>" at the start of `text` (after "MAIL FROM:" or "RCPT TO:", spaces allowed before '<').
// `allow_null` accepts "<>" (reverse-paths); without it, "<postmaster>" with no domain is accepted (forward-paths,
// RFC 5321 4.5.1). `utf8` accepts UTF-8 in the local part and domain (SMTPUTF8); without it any 8-bit byte is
// PathError::not_ascii. The limits count octets: local part 64, domain 255, path 256 including the brackets.
PathParse parse_path(std::string_view text, bool allow_null, bool utf8);

// The domain part, lower-cased, of "local@domain"; empty when there is none.
std::string domain_of(std::string_view address);

}  // namespace smarthost::mail
