// Bounce and DSN construction: RFC 3464 structure, status codes, expiry, the original headers, and caps.
#include <gtest/gtest.h>

#include "mail/dsn.h"
#include "queue/bounce.h"

namespace smarthost::queue {
namespace {

using std::chrono::system_clock;

StoredMessage original() {
  StoredMessage message;
  message.id = "01HV3K9Q2M4B7";
  message.envelope.mail_from = "alice@example.org";
  message.envelope.recipients = {{"bob@example.net", mail::RecipientState::failed, "550 5.1.1 no such user"},
                                 {"carol@example.net", mail::RecipientState::failed, ""}};
  message.envelope.received_at = system_clock::time_point(std::chrono::seconds(1'700'000'000));
  return message;
}

size_t count(const std::string& text, std::string_view needle) {
  size_t found = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++found;
  return found;
}

TEST(Bounce, IsAMultipartReportWithOneBlockPerRecipient) {
  std::vector<Failure> failures = {{"bob@example.net", "550 5.1.1 no such user", false, "mailgun0"},
                                   {"carol@example.net", "HTTP 400: 'to' is not valid", false, ""}};
  auto now = system_clock::time_point(std::chrono::seconds(1'700'000'600));
  Bounce bounce = make_bounce(original(), "Subject: hi\nFrom: alice@example.org\n\nbody", failures, "relay.example", now);

  EXPECT_EQ(bounce.envelope.mail_from, "");
  ASSERT_EQ(bounce.envelope.recipients.size(), 1u);
  EXPECT_EQ(bounce.envelope.recipients[0].address, "alice@example.org");
  const std::string& dsn = bounce.content;
  EXPECT_EQ(dsn.find('\n'), dsn.find("\r\n") + 1);  // CRLF line ends
  EXPECT_EQ(count(dsn, "\n"), count(dsn, "\r\n"));
  EXPECT_NE(dsn.find("From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("To: <alice@example.org>\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Date: Tue, 14 Nov 2023 22:23:20 +0000\r\n"), std::string::npos);

  // Boundary declared once, used for three parts and the closing delimiter.
  size_t at = dsn.find("boundary=\"");
  ASSERT_NE(at, std::string::npos);
  std::string boundary = dsn.substr(at + 10, dsn.find('"', at + 10) - at - 10);
  EXPECT_EQ(count(dsn, "\r\n--" + boundary + "\r\n"), 3u);
  EXPECT_EQ(count(dsn, "\r\n--" + boundary + "--\r\n"), 1u);

  EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(dsn.find("Reporting-MTA: dns; relay.example\r\nX-Smarthost-Queue-ID: 01HV3K9Q2M4B7\r\n"
                     "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\r\n"),
            std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                     "Remote-MTA: dns; mailgun0\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"),
            std::string::npos);
  // A provider's error is not an SMTP reply: a generic permanent status and a non-smtp diagnostic type.
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; carol@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n"
                     "Diagnostic-Code: X-smarthost; HTTP 400: 'to' is not valid\r\n"),
            std::string::npos);
  EXPECT_NE(dsn.find("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
                     "Subject: hi\r\nFrom: alice@example.org\r\n\r\n--"),
            std::string::npos);
  EXPECT_EQ(dsn.find("body"), std::string::npos);
}

TEST(Bounce, ExpiryUsesTheLastTemporaryStatusOr447) {
  std::vector<Failure> failures = {{"bob@example.net", "421 4.4.2 timeout", true, ""},
                                   {"carol@example.net", "", true, ""}};
  Bounce bounce = make_bounce(original(), "Subject: x\r\n\r\n", failures, "relay.example", system_clock::now());
  EXPECT_NE(bounce.content.find("Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 4.4.2\r\n"),
            std::string::npos);
  EXPECT_NE(bounce.content.find("Final-Recipient: rfc822; carol@example.net\r\nAction: failed\r\nStatus: 4.4.7\r\n"),
            std::string::npos);
  EXPECT_NE(bounce.content.find("before its time in the queue ran out"), std::string::npos);
}

TEST(Bounce, RemoteTextCannotBreakTheReport) {
  std::vector<Failure> failures = {{"bob@example.net", "550 5.7.1 bad\r\nX-Injected: yes\r\n" + std::string(5000, 'z'),
                                    false, ""}};
  std::string huge_header(100000, 'h');
  huge_header += ": v\r\n";
  Bounce bounce = make_bounce(original(), huge_header, failures, "relay.example", system_clock::now());
  EXPECT_EQ(bounce.content.find("\r\nX-Injected"), std::string::npos);
  size_t longest = 0;
  for (size_t start = 0, end; (end = bounce.content.find("\r\n", start)) != std::string::npos; start = end + 2)
    longest = std::max(longest, end - start);
  EXPECT_LE(longest, 998u);  // the overlong original header line was dropped, the diagnostic capped
}

TEST(Bounce, Utf8AddressesUseGlobalDeliveryStatus) {
  StoredMessage message = original();
  message.envelope.mail_from = "josé@example.org";
  message.envelope.smtputf8 = true;
  std::vector<Failure> failures = {{"zoë@example.net", "550 5.1.1 unknown", false, ""}};
  Bounce bounce = make_bounce(message, "Subject: x\r\n\r\n", failures, "relay.example", system_clock::now());
  EXPECT_NE(bounce.content.find("Content-Type: message/global-delivery-status\r\n"), std::string::npos);
  EXPECT_NE(bounce.content.find("Final-Recipient: utf-8; zoë@example.net\r\n"), std::string::npos);
  EXPECT_TRUE(bounce.envelope.smtputf8);
  EXPECT_EQ(bounce.envelope.body, mail::BodyType::eight_bit_mime);
}

TEST(Dsn, EnhancedStatusIsReadFromSmtpReplies) {
  EXPECT_EQ(mail::enhanced_status("550 5.1.1 no such user"), "5.1.1");
  EXPECT_EQ(mail::enhanced_status("451-4.7.1 greylisted"), "4.7.1");
  EXPECT_EQ(mail::enhanced_status("250 2.0.0"), "2.0.0");
  EXPECT_EQ(mail::enhanced_status("550 no code here"), "");
  EXPECT_EQ(mail::enhanced_status("HTTP 429: slow down"), "");
  EXPECT_EQ(mail::enhanced_status("550 5.1234.1 bad"), "");
  EXPECT_EQ(mail::enhanced_status(""), "");
}

}  // namespace
}  // namespace smarthost::queue
