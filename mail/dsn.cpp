// Builds RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status).
// Every line ends in CRLF; remote text is flattened to one line and capped so the report stays valid.
#include "mail/dsn.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace smarthost::mail {
namespace {

constexpr size_t kMaxOriginalHeaders = 64 * 1024;  // RFC 3462 allows a subset; keep bounces small
constexpr size_t kMaxDiagnostic = 900;              // keeps each field line under 998 octets

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Remote answers may carry CR, LF or other controls: they become spaces, and the result is capped.
std::string one_line(std::string_view text, size_t cap) {
  std::string out;
  out.reserve(std::min(text.size(), cap));
  for (char c : text) {
    if (out.size() >= cap) break;
    auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The header block with CRLF line ends, cut at a line boundary under the cap, without the blank line after it.
std::string normalize_headers(std::string_view headers) {
  std::string out;
  size_t start = 0;
  while (start < headers.size()) {
    size_t end = headers.find('\n', start);
    std::string_view line = headers.substr(start, end == std::string_view::npos ? headers.npos : end - start);
    start = end == std::string_view::npos ? headers.size() : end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header block
    if (out.size() + line.size() + 2 > kMaxOriginalHeaders) break;
    for (char c : line) out.push_back(c == '\r' ? ' ' : c);
    out += "\r\n";
  }
  return out;
}

std::string default_status(std::string_view action) {
  if (action == "delayed") return "4.0.0";
  if (action == "delivered" || action == "relayed" || action == "expanded") return "2.0.0";
  return "5.0.0";
}

bool looks_like_smtp_reply(std::string_view reply) {
  return reply.size() >= 3 && std::isdigit(static_cast<unsigned char>(reply[0])) &&
         std::isdigit(static_cast<unsigned char>(reply[1])) && std::isdigit(static_cast<unsigned char>(reply[2])) &&
         (reply.size() == 3 || reply[3] == ' ' || reply[3] == '-');
}

std::string address_field(std::string_view address, bool utf8) {
  return std::string(utf8 ? "utf-8; " : "rfc822; ") + std::string(address);
}

}  // namespace

std::string enhanced_status(std::string_view reply) {
  // "550 5.1.1 text" or "550-5.1.1 text": class.subject.detail with 1-3 digit fields.
  if (!looks_like_smtp_reply(reply) || reply.size() < 5) return {};
  std::string_view rest = reply.substr(4);
  size_t end = rest.find(' ');
  std::string_view code = rest.substr(0, end);
  if (code.size() < 5 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || code[1] != '.') return {};
  int dots = 0;
  size_t field = 1;  // the class digit
  for (size_t i = 1; i < code.size(); ++i) {
    if (code[i] == '.') {
      if (field == 0) return {};
      ++dots;
      field = 0;
    } else if (std::isdigit(static_cast<unsigned char>(code[i])) && field < 3) {
      ++field;
    } else {
      return {};
    }
  }
  if (dots != 2 || field == 0) return {};
  return std::string(code);
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return text;
}

std::string build_dsn(const DsnReport& report) {
  const std::string host = report.reporting_mta.empty() ? "localhost" : one_line(report.reporting_mta, 255);
  const std::string headers = normalize_headers(report.original_headers);
  bool utf8 = !is_ascii(report.sender);
  for (const auto& recipient : report.recipients) utf8 = utf8 || !is_ascii(recipient.address);
  bool all_delayed = !report.recipients.empty() &&
                     std::all_of(report.recipients.begin(), report.recipients.end(),
                                 [](const DsnRecipient& r) { return r.action == "delayed"; });

  auto stamp = std::chrono::duration_cast<std::chrono::microseconds>(report.date.time_since_epoch()).count();
  std::string boundary = "=_smarthost_" + report.original_queue_id + "_" + std::to_string(stamp);
  while (headers.find(boundary) != std::string::npos) boundary += "_";

  std::string out;
  out += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
  out += "To: <" + one_line(report.sender, 512) + ">\r\n";
  out += all_delayed ? "Subject: Delayed Mail (still being retried)\r\n"
                     : "Subject: Undelivered Mail Returned to Sender\r\n";
  out += "Date: " + rfc5322_date(report.date) + "\r\n";
  out += "Message-ID: <" + std::to_string(stamp) + "." + report.original_queue_id + "@" + host + ">\r\n";
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"" + boundary + "\"\r\n";
  out += "\r\n";
  out += "This is a MIME-encapsulated message.\r\n\r\n";

  // 1. The human-readable explanation.
  out += "--" + boundary + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: 8bit\r\n\r\n";
  out += "This is the mail system at host " + host + ".\r\n\r\n";
  if (!report.reason.empty()) {
    out += one_line(report.reason, kMaxDiagnostic) + "\r\n\r\n";
  } else if (all_delayed) {
    out += "Your message could not be delivered yet to the recipients below. It will be retried.\r\n\r\n";
  } else {
    out += "Your message could not be delivered to one or more recipients.\r\n"
           "It is attached below (headers only).\r\n\r\n";
  }
  for (const auto& recipient : report.recipients) {
    out += "<" + one_line(recipient.address, 512) + ">: ";
    out += recipient.diagnostic.empty() ? recipient.action : one_line(recipient.diagnostic, kMaxDiagnostic);
    out += "\r\n";
  }
  out += "\r\n";

  // 2. The machine-readable report: per-message fields, then one block per recipient.
  out += "--" + boundary + "\r\n";
  out += utf8 ? "Content-Type: message/global-delivery-status\r\n" : "Content-Type: message/delivery-status\r\n";
  out += "\r\n";
  out += "Reporting-MTA: dns; " + host + "\r\n";
  if (!report.original_queue_id.empty()) out += "X-Smarthost-Queue-ID: " + report.original_queue_id + "\r\n";
  out += "Arrival-Date: " + rfc5322_date(report.arrival_date) + "\r\n";
  for (const auto& recipient : report.recipients) {
    out += "\r\n";
    out += "Final-Recipient: " + address_field(one_line(recipient.address, 512), utf8) + "\r\n";
    out += "Action: " + recipient.action + "\r\n";
    std::string status = recipient.status.empty() ? enhanced_status(recipient.diagnostic) : recipient.status;
    if (status.empty()) status = default_status(recipient.action);
    out += "Status: " + status + "\r\n";
    if (!recipient.remote_mta.empty()) out += "Remote-MTA: dns; " + one_line(recipient.remote_mta, 255) + "\r\n";
    if (!recipient.diagnostic.empty()) {
      out += "Diagnostic-Code: ";
      out += looks_like_smtp_reply(recipient.diagnostic) ? "smtp; " : "X-smarthost; ";
      out += one_line(recipient.diagnostic, kMaxDiagnostic) + "\r\n";
    }
    out += "Last-Attempt-Date: " + rfc5322_date(report.date) + "\r\n";
  }
  out += "\r\n";

  // 3. The original message's headers.
  out += "--" + boundary + "\r\n";
  out += utf8 ? "Content-Type: message/global-headers\r\n" : "Content-Type: text/rfc822-headers\r\n";
  out += is_ascii(headers) ? "Content-Transfer-Encoding: 7bit\r\n" : "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += headers;
  out += "\r\n";
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace smarthost::mail
