// RFC 3464 delivery status notifications: builds the multipart/report bounce sent back to a message's sender.
// Pure text building, no I/O: the queue decides who failed and why, and spools the result like any message.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace smarthost::mail {

// One recipient's block in the message/delivery-status part.
struct DsnRecipient {
  std::string address;            // Final-Recipient
  std::string action = "failed";  // failed | delayed | delivered | relayed | expanded
  std::string status;             // RFC 3463 code, e.g. "5.1.1"; empty: derived from the action
  std::string diagnostic;         // the last remote answer, e.g. "550 5.1.1 no such user"; may be empty
  std::string remote_mta;         // the upstream that answered, e.g. "mailgun0"; may be empty
};

struct DsnReport {
  std::string reporting_mta;      // this host's name: Reporting-MTA and the From: domain
  std::string sender;             // the original envelope sender, To: of the report (never empty)
  std::string original_queue_id;  // for the human-readable part and the boundary
  std::chrono::system_clock::time_point arrival_date{};  // when the original message was received
  std::chrono::system_clock::time_point date{};          // when the report is made (its Date:)
  std::vector<DsnRecipient> recipients;
  std::string original_headers;  // the original header block (CRLF or LF line ends); capped and attached
  std::string reason;            // one line for the human-readable part; empty: a default per action
};

// The whole report as an RFC 5322 message with CRLF line ends: From MAILER-DAEMON, Auto-Submitted, a
// text/plain explanation, the message/delivery-status part and the original headers as text/rfc822-headers.
std::string build_dsn(const DsnReport& report);

// The RFC 3463 enhanced status code in an SMTP-style reply ("550 5.1.1 no such user" -> "5.1.1"), or "".
std::string enhanced_status(std::string_view reply);

// An RFC 5322 date-time in UTC, e.g. "Tue, 04 Mar 2025 10:00:00 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point when);

}  // namespace smarthost::mail
