// The message side of `smarthost sendmail`: reads the message as sendmail does (-i, -t), converts line ends to
// CRLF, extracts recipients from To/Cc/Bcc, strips Bcc, and adds From, Date and Message-ID when missing.
// No I/O beyond the input string; unit-tested alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smarthost::app {

struct SendmailOptions {
  bool extract_recipients = false;  // -t
  bool ignore_dots = false;         // -i / -oi: a line with a single '.' does not end the message
  std::string sender;               // -f (envelope sender); empty = the user's address
  std::string full_name;            // -F
  std::vector<std::string> recipients;  // command-line arguments
  bool smtp_on_stdio = false;           // -bs
};

struct PreparedMessage {
  std::string content;  // CRLF line ends, not dot-stuffed
  std::vector<std::string> recipients;
  std::string sender;
};

// Parses sendmail's command line (without the program or command name). Unknown flags are errors; the usual
// no-op flags (-odi, -oem, -v, ...) are accepted. Returns an error text, or "" on success.
std::string parse_sendmail_args(const std::vector<std::string>& args, SendmailOptions& options);

// Builds the message to submit from what was read on standard input. `default_sender` is user@host.
PreparedMessage prepare_message(std::string_view input, const SendmailOptions& options,
                                const std::string& default_sender, const std::string& hostname);

// Addresses in an RFC 5322 address-list header value: "A <a@x>, b@y, \"C, D\" <c@z>, group: e@w;".
std::vector<std::string> parse_address_list(std::string_view value);

}  // namespace smarthost::app
