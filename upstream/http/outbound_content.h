// Shared preparation of a message for the provider APIs: reading it from the spool, editing the raw header
// section (Bcc and client control headers out, sender identity applied), routing envelope recipients to To, Cc
// or Bcc, and choosing which custom headers a JSON API may carry. Pure functions apart from the spool read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/header_rewrite.h"
#include "upstream/http/mime_view.h"
#include "upstream/transport.h"

namespace smarthost::upstream::http {

struct LoadedContent {
  std::string content;  // the RFC 5322 message, CRLF line ends
  std::string error;    // set when it could not be read
};

// What load_content reserves beyond the message: header edits and a request's framing then fit without a copy.
inline constexpr std::size_t kContentSlack = 64 * 1024;

// Reads message.size bytes at message.content_offset of message.content_path; refuses more than max_bytes.
// A synchronous read of a local spool file (the spool is on local disk; the provider call dwarfs it).
LoadedContent load_content(const OutboundMessage& message, uint64_t max_bytes);

// Provider control headers a client must not smuggle in: X-Mailgun-*, X-SES-*, X-PM-* (and SendGrid's X-SMTPAPI).
bool is_control_header(std::string_view name);

// The raw message as a raw-MIME API should get it: Bcc removed, control headers removed unless allowed, the
// sender identity applied (header_rewrite.h). The body is untouched.
std::string prepare_raw_message(std::string_view message, const SenderIdentity& identity, bool allow_control_headers);
// The same edit made in place: only the header section is rewritten, the body is not copied.
void prepare_raw_message_in_place(std::string& message, const SenderIdentity& identity, bool allow_control_headers);

// Removes every field named in `names` (case-insensitive) or starting with one of `prefixes` from a header section.
std::string remove_header_fields(std::string_view header_section, const std::vector<std::string_view>& names,
                                 const std::vector<std::string_view>& prefixes);

enum class Role { to, cc, bcc };

// An envelope recipient as a JSON API should address it.
struct RoutedRecipient {
  std::string email;
  std::string name;                 // from the To/Cc header when the address appears there
  Role role = Role::bcc;            // to/cc when the header lists it, else bcc
  std::vector<std::size_t> indices;  // envelope positions (several when the envelope repeats an address)
};

// Each envelope address once (case-insensitive), in envelope order, with its role from the headers.
std::vector<RoutedRecipient> route_recipients(const MimeView& view, const std::vector<std::string>& envelope);

// Splits into groups of at most `max_per_group`, keeping order.
std::vector<std::vector<RoutedRecipient>> chunk(const std::vector<RoutedRecipient>& recipients,
                                                std::size_t max_per_group);

// The sender the JSON APIs are given: From and Reply-To after applying from_email/from_name/reply_to/from_mode
// to the message's own headers.
struct ResolvedSender {
  MailboxAddress from;
  std::vector<MailboxAddress> reply_to;  // empty when none
  std::string error;                     // no From in the message and none configured
};
ResolvedSender resolve_sender(const MimeView& view, const SenderIdentity& identity);

// The values a JSON API turns into header fields (sender, reply-to, subject, To/Cc names, attachment names, types
// and Content-IDs): the refusal when one holds a CR, LF or NUL (possible after RFC 2047 decoding), else empty.
std::string header_injection(const MimeView& view, const ResolvedSender& sender);

// The message's headers that a JSON API may carry as custom headers: everything except the structural ones the
// API builds itself (From, To, Subject, MIME and content fields, Received, DKIM-Signature, Message-ID, Date ...),
// `extra_forbidden_prefixes` (e.g. "x-sg-") and, unless allowed, the control headers. Values are the raw
// unfolded text; a name or value with CR, LF or NUL is dropped.
std::vector<MimeHeader> custom_headers(const MimeView& view, bool allow_control_headers,
                                       const std::vector<std::string_view>& extra_forbidden_prefixes);

// "text\r\n" line ends to "\n" (the JSON APIs build their own MIME).
std::string lf_line_ends(std::string_view text);

std::string base64_encode(std::string_view data);
// Appends the base64 of `data` (no line breaks) to `out`, with no temporary copy.
void base64_append(std::string& out, std::string_view data);

bool is_ascii(std::string_view text);
std::string lower_ascii(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

}  // namespace smarthost::upstream::http
