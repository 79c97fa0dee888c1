// Formatting for what the server writes: reply lines, multi-line replies, and the Received: trace header
// (RFC 5321 4.4, RFC 3848 / RFC 6531 "with" protocols) with its RFC 5322 date. No state and no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::smtpd {

// "250 2.0.0 Ok" -> "250 2.0.0 Ok\r\n". A CR or LF inside `line` is replaced by a space (replies are one line).
std::string reply_line(std::string_view line);

// A multi-line reply: "250-first\r\n250-...\r\n250 last\r\n". `lines` must not be empty.
std::string multiline_reply(int code, const std::vector<std::string>& lines);

struct ReceivedFields {
  std::string_view helo;            // as the client sent it; unsafe characters are replaced
  std::string_view client_address;  // "192.0.2.7", "2001:db8::1" or "unix"
  std::string_view hostname;        // ours
  std::string_view protocol;        // SMTP, ESMTP, ESMTPSA, UTF8SMTPS, ...
  std::string_view queue_id;
  std::string_view recipient;       // empty unless the message has exactly one recipient
  std::string_view tls_version;     // empty without TLS
  std::string_view tls_cipher;
  std::chrono::system_clock::time_point when;
};

// "Received: from helo ([192.0.2.7])\r\n\t(using TLSv1.3 with cipher X)\r\n\tby host (smarthost) with ESMTPS id Q\r\n
// \tfor <rcpt>; Tue, 03 Jan 2023 10:00:00 +0000\r\n", folded at spaces so lines stay within 78 columns where
// the words allow it.
std::string format_received(const ReceivedFields& fields);

// The RFC 5322 date-time in UTC: "Tue, 03 Jan 2023 10:00:00 +0000". Independent of the locale.
std::string rfc5322_date(std::chrono::system_clock::time_point when);

// The "with" protocol name: SMTP for HELO; ESMTP or UTF8SMTP, plus S for TLS and A for AUTH.
std::string_view received_protocol(bool esmtp, bool utf8, bool tls, bool auth);

}  // namespace smarthost::smtpd
