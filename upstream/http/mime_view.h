// The parsed view of one RFC 5322 message that JSON provider APIs need (SendGrid, Postmark): addresses, decoded
// subject and headers, the text and HTML bodies in UTF-8, and the attachments and inline parts, decoded.
// Built on GMime; nothing of GMime shows here. It never changes the message and does no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::upstream::http {

struct MailboxAddress {
  std::string name;   // display name, RFC 2047 decoded, UTF-8; may be empty
  std::string email;  // addr-spec
};

struct MimeHeader {
  std::string name;
  std::string value;  // unfolded, RFC 2047 decoded, UTF-8
  std::string raw;    // unfolded, as written (encoded words kept), trimmed
};

struct MimeAttachment {
  std::string filename;      // decoded; generated ("part-2.png") when the message gives none
  std::string content_type;  // "image/png"
  std::string content_id;    // without angle brackets; empty when none
  bool inline_part = false;  // shown inside the HTML (Content-Disposition inline, or a related part with an id)
  std::string data;          // the decoded bytes
};

struct MimeView {
  std::vector<MailboxAddress> from;
  std::vector<MailboxAddress> to;
  std::vector<MailboxAddress> cc;
  std::vector<MailboxAddress> bcc;
  std::vector<MailboxAddress> reply_to;
  std::string subject;     // decoded, UTF-8
  std::string message_id;  // without angle brackets
  std::optional<std::string> text;  // UTF-8, line ends as in the message
  std::optional<std::string> html;  // UTF-8
  std::vector<MimeAttachment> attachments;
  std::vector<MimeHeader> headers;  // every top-level header, in order
  std::vector<std::string> notes;   // what was malformed and how it was read, empty for a clean message

  // The first header with this name (case-insensitive), decoded; nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

struct MimeParse {
  std::optional<MimeView> view;
  std::string error;  // set when no view could be built at all
};

// Parses a whole message (CRLF or LF line ends). Malformed MIME degrades: a multipart without usable parts, or
// with no boundary, is read as plain text with a note; only input without any header section fails.
MimeParse parse_mime(std::string_view message);

// Parses an address list such as "Name <a@b.c>, d@e.f" (RFC 2047 names decoded). Empty when nothing parses.
std::vector<MailboxAddress> parse_address_list(std::string_view text);

// ISO-8859-1 (really Windows-1252 for 0x80-0x9F) to UTF-8, for text that is not valid UTF-8.
std::string latin1_to_utf8(std::string_view text);
bool is_valid_utf8(std::string_view text);

}  // namespace smarthost::upstream::http
