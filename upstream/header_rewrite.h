// Applies the configured sender identity (from_email, from_name, reply_to, from_mode) to a message's header section.
// Pure text in, text out: shared by the SMTP and HTTP transports. It does not parse MIME bodies or encode content.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "conf/config.h"

namespace smarthost::upstream {

struct SenderIdentity {
  std::string from_email;
  std::string from_name;
  std::string reply_to;
  conf::FromMode mode = conf::FromMode::missing;

  static SenderIdentity from_config(const conf::CommonProviderConfig& common);
  // True when applying it may change a message (some address is configured).
  bool active() const { return !from_email.empty() || !reply_to.empty(); }
};

// The length of the header section at the start of `message`, blank line included ("...\r\n\r\n"); 0 when the
// message starts with the blank line. npos when no blank line is found (the caller decides whether `message`
// was the whole message: then all of it is header).
size_t header_section_length(std::string_view message);

// Rewrites a header section (CRLF line ends; with or without its final blank line, which is kept as it was):
// - missing: adds From (from_name <from_email>) when there is none, and Reply-To when there is none;
// - always: replaces From; the original From goes to Reply-To unless reply_to is set (which then replaces
//   Reply-To) or the message already has a Reply-To.
// Fields not involved keep their bytes and order.
std::string rewrite_headers(std::string_view header_section, const SenderIdentity& identity);

// "Name <email>" with the name quoted (RFC 5322) or encoded (RFC 2047, UTF-8 base64) when needed; "email" alone
// when the name is empty.
std::string format_mailbox(std::string_view name, std::string_view email);

}  // namespace smarthost::upstream
