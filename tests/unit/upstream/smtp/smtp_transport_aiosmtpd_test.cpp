// Relays through a real SMTP server, Python's aiosmtpd, with STARTTLS and AUTH required: the message arrives
// byte-exact (headers, dot-stuffed lines, 8-bit content), over TLS, authenticated, with the envelope intact.
#include <gtest/gtest.h>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/smtp/fake_relay_fixture.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

class AiosmtpdRelay : public PkiSuite {
 protected:

  conf::Upstream upstream(uint16_t port) {
    conf::Upstream u = test::smtp_upstream(port);
    auto& smtp = test::smtp_of(u);
    smtp.use_tls = true;
    smtp.username = "relay-user";
    smtp.password = "relay-pass";
    return u;
  }
  conf::SecurityConfig security() {
    conf::SecurityConfig s;
    s.ca_file = pki_->ca;
    return s;
  }

  test::TempDir dir_;
  boost::asio::io_context io_;
};

TEST_F(AiosmtpdRelay, MessageArrivesByteExactOverStarttlsWithAuth) {
  test::AiosmtpdSink sink(dir_.path(), pki_->good, pki_->key, "relay-user", "relay-pass");
  SmtpTransport transport(upstream(sink.port()), security(), {}, {}, "relay.test", io_.get_executor());

  const std::string content =
      "Received: from client.example ([192.0.2.7]) by relay.test with ESMTPSA id 0T9XK2M4B7QF;\r\n"
      "\tMon, 24 Nov 2025 06:14:00 +0000\r\n"
      "From: Zoë <zoe@client.example>\r\n"
      "To: dest@example.net\r\n"
      "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "\r\n"
      "Grüße aus Köln — 8-bit text.\r\n"
      ".leading dot must survive\r\n"
      ".\r\n"
      "..two dots\r\n"
      "last line\r\n";
  auto message = test::queued_message(dir_.path() / "spool", "Q1", content, "zoe@client.example",
                                      {"dest@example.net", "other@example.net"}, mail::BodyType::eight_bit_mime);
  DeliveryResult result = test::run_to_completion(io_, transport.deliver(message));

  ASSERT_EQ(result.outcome, Outcome::delivered) << result.reply;
  ASSERT_EQ(result.recipients.size(), 2u);
  EXPECT_EQ(result.recipients[1].outcome, Outcome::delivered);
  EXPECT_EQ(result.remote_id, "SINK1");
  ASSERT_EQ(sink.count(), 1u);
  EXPECT_EQ(sink.message(1), content);
  auto envelope = sink.envelope(1);
  EXPECT_EQ(envelope.at("mail_from").as_string(), "zoe@client.example");
  EXPECT_EQ(envelope.at("rcpt_tos").as_array().size(), 2u);
  EXPECT_EQ(envelope.at("auth_user").as_string(), "relay-user");
  EXPECT_TRUE(envelope.at("tls").as_bool());
  bool body_8bit = false;
  for (const auto& o : envelope.at("mail_options").as_array()) body_8bit |= o.as_string() == "BODY=8BITMIME";
  EXPECT_TRUE(body_8bit);
}

TEST_F(AiosmtpdRelay, SeveralMessagesOnOneConnectionWithReturnPathAndFromRewrite) {
  test::AiosmtpdSink sink(dir_.path(), pki_->good, pki_->key, "relay-user", "relay-pass");
  conf::Upstream u = upstream(sink.port());
  test::smtp_of(u).return_path = "bounces@relay.test";
  u.common.from_email = "noreply@relay.test";
  u.common.from_name = "Relay Service";
  u.common.from_mode = conf::FromMode::always;
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());

  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(test::queued_message(dir_.path() / "spool", "B" + std::to_string(i),
                                         "From: App <app@client.example>\r\nSubject: n" + std::to_string(i) +
                                             "\r\n\r\nbody " + std::to_string(i) + "\r\n",
                                         "app@client.example", {"dest@example.net"}));
  }
  auto results = test::run_to_completion(io_, transport.deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(sink.count(), 3u);
  EXPECT_EQ(sink.message(2),
            "From: Relay Service <noreply@relay.test>\r\nSubject: n1\r\nReply-To: App <app@client.example>\r\n\r\n"
            "body 1\r\n");
  EXPECT_EQ(sink.envelope(3).at("mail_from").as_string(), "bounces@relay.test");
  EXPECT_EQ(transport.pool_stats().opened, 1u);
}

TEST_F(AiosmtpdRelay, WrongPasswordIsRefusedByThisUpstreamOnly) {
  test::AiosmtpdSink sink(dir_.path(), pki_->good, pki_->key, "relay-user", "relay-pass");
  conf::Upstream u = upstream(sink.port());
  test::smtp_of(u).password = "wrong";
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  auto message = test::queued_message(dir_.path() / "spool", "Q1", "Subject: x\r\n\r\nx\r\n", "a@client.example",
                                      {"dest@example.net"});
  DeliveryResult result = test::run_to_completion(io_, transport.deliver(message));
  EXPECT_EQ(result.outcome, Outcome::upstream_refused) << result.reply;
  EXPECT_TRUE(result.upstream_unhealthy);
  EXPECT_NE(result.reply.find("535"), std::string::npos) << result.reply;
  EXPECT_EQ(sink.count(), 0u);
}

}  // namespace
}  // namespace smarthost::upstream::smtp
