// The Received: header (RFC 5321 4.4): its clauses, the "with" protocol names, TLS details, folding under 78
// columns, the RFC 5322 date and the handling of hostile HELO names.
#include "smtpd/reply.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "smtpd/session.h"
#include "tests/unit/smtpd/session_fixture.h"

namespace smarthost::smtpd::test {
namespace {

std::vector<std::string> header_lines(const std::string& header) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < header.size()) {
    const size_t end = header.find("\r\n", pos);
    if (end == std::string::npos) {
      lines.push_back(header.substr(pos));
      break;
    }
    lines.push_back(header.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// Undoes the folding: CRLF followed by whitespace becomes that whitespace.
std::string unfold(const std::string& header) {
  std::string out;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header.compare(i, 3, "\r\n\t") == 0 || header.compare(i, 3, "\r\n ") == 0) {
      out += ' ';
      i += 2;
    } else {
      out += header[i];
    }
  }
  return out;
}

TEST(Received, PlainEsmtpWithOneRecipient) {
  FakePolicy policy;
  Session session(test_settings(), policy, loopback_client());
  Driver d(session);
  d.greet();
  d.input("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(d.headers.size(), 1u);
  EXPECT_EQ(d.headers[0],
            "Received: from client.test ([127.0.0.1])\r\n"
            "\tby mx.test (smarthost) with ESMTP id Q1\r\n"
            "\tfor <b@example.net>; Tue, 03 Jan 2023 10:00:00 +0000\r\n");
}

TEST(Received, TlsAuthAndTwoRecipients) {
  FakePolicy policy;
  policy.passwords["user"] = "secret";
  Session session(test_settings(), policy, loopback_client());
  Driver d(session);
  d.greet();
  d.input("EHLO c\r\nSTARTTLS\r\n");
  d.input("EHLO client.test\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nMAIL FROM:<a@example.com>\r\n"
          "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(d.headers.size(), 1u);
  EXPECT_EQ(d.headers[0],
            "Received: from client.test ([127.0.0.1])\r\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
            "\tby mx.test (smarthost) with ESMTPSA id Q1;\r\n"
            "\tTue, 03 Jan 2023 10:00:00 +0000\r\n");
}

TEST(Received, HeloIpv6AndUtf8) {
  FakePolicy policy;
  ClientInfo client;
  client.address = "2001:db8::7";
  Session session(test_settings(), policy, client);
  Driver d(session);
  d.greet();
  d.input("HELO old.client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
  d.input("EHLO new.client\r\nMAIL FROM:<a@example.com> SMTPUTF8\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_EQ(d.headers.size(), 2u);
  EXPECT_NE(d.headers[0].find("from old.client ([IPv6:2001:db8::7])"), std::string::npos) << d.headers[0];
  EXPECT_NE(d.headers[0].find(" with SMTP id Q1"), std::string::npos);
  EXPECT_NE(d.headers[1].find(" with UTF8SMTP id Q2"), std::string::npos);
}

TEST(Received, ProtocolNames) {
  EXPECT_EQ(received_protocol(false, false, true, true), "SMTP");
  EXPECT_EQ(received_protocol(true, false, false, false), "ESMTP");
  EXPECT_EQ(received_protocol(true, false, false, true), "ESMTPA");
  EXPECT_EQ(received_protocol(true, false, true, false), "ESMTPS");
  EXPECT_EQ(received_protocol(true, false, true, true), "ESMTPSA");
  EXPECT_EQ(received_protocol(true, true, false, false), "UTF8SMTP");
  EXPECT_EQ(received_protocol(true, true, true, true), "UTF8SMTPSA");
}

TEST(Received, FoldsLongClausesUnder78Columns) {
  ReceivedFields f;
  f.helo = "a-rather-long-client-host-name.with-many-labels.example.com";
  f.client_address = "198.51.100.200";
  f.hostname = "relay.internal.example.org";
  f.protocol = "ESMTPSA";
  f.queue_id = "4Xk9F2m7Qz1b2c3d";
  f.recipient = "a.very.long.recipient.address.for.testing@subdomain.recipient-domain.example";
  f.tls_version = "TLSv1.3";
  f.tls_cipher = "TLS_CHACHA20_POLY1305_SHA256";
  f.when = fixed_time();
  const std::string h = format_received(f);
  // A tab counts as 8 columns. Only a single word longer than the line (the recipient here) may pass 78.
  for (const auto& l : header_lines(h)) {
    const size_t columns = l.size() + (!l.empty() && l[0] == '\t' ? 7 : 0);
    if (columns > 78) {
      EXPECT_EQ(l.find(' '), std::string::npos) << "a foldable line is too long: " << l;
    }
  }
  EXPECT_NE(h.find("\r\n\t<a.very.long.recipient"), std::string::npos) << h;
  EXPECT_EQ(h.substr(h.size() - 2), "\r\n");
  const std::string flat = unfold(h);
  EXPECT_NE(flat.find("for <" + std::string(f.recipient) + ">; Tue, 03 Jan 2023 10:00:00 +0000"), std::string::npos)
      << flat;
  EXPECT_EQ(h.find("\r\n\r\n"), std::string::npos);
}

TEST(Received, HostileHeloCannotBreakTheHeader) {
  ReceivedFields f;
  f.helo = "evil)\x01(name\\x\xc3\xa9";
  f.client_address = "192.0.2.1";
  f.hostname = "mx.test";
  f.protocol = "ESMTP";
  f.queue_id = "Q";
  f.when = fixed_time();
  const std::string h = format_received(f);
  EXPECT_NE(h.find("from evil???name?x?? ([192.0.2.1])"), std::string::npos) << h;
}

TEST(Received, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(fixed_time()), "Tue, 03 Jan 2023 10:00:00 +0000");
  EXPECT_EQ(rfc5322_date(std::chrono::system_clock::time_point{}), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST(Replies, LineAndMultiline) {
  EXPECT_EQ(reply_line("250 2.0.0 Ok"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(reply_line("550 5.7.1 a\r\nb"), "550 5.7.1 a  b\r\n");
  EXPECT_EQ(multiline_reply(250, {"a", "b", "c"}), "250-a\r\n250-b\r\n250 c\r\n");
  EXPECT_EQ(multiline_reply(250, {"only"}), "250 only\r\n");
}

}  // namespace
}  // namespace smarthost::smtpd::test
