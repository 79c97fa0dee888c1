// The SMTP transport against the scriptable fake server: every failure a relay can produce, and what it means.
#include <gtest/gtest.h>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/smtp/fake_relay_fixture.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

using namespace std::chrono_literals;

TEST_F(FakeRelay, DeliversAndReportsTheRemoteId) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_EQ(r.remote_id, "FAKE1");
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].data, "Subject: test\r\n\r\nhello\r\n");
  EXPECT_EQ(fake.messages()[0].mail_from, "MAIL FROM:<sender@client.example> SIZE=24");
}

TEST_F(FakeRelay, TemporaryFailure) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "MAIL", "reply": "451 4.3.0 Try again later"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_FALSE(r.upstream_unhealthy);
  EXPECT_EQ(r.reply, "451 4.3.0 Try again later");
  EXPECT_TRUE(fake.messages().empty());
}

TEST_F(FakeRelay, PermanentFailure) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "DATA_END", "reply": "554 5.6.0 Message content rejected"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::permanent);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].reply, "554 5.6.0 Message content rejected");
}

TEST_F(FakeRelay, PerRecipientResults) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(R"("rules": [
      {"cmd": "RCPT", "match": "bad@", "reply": "550 5.1.1 No such user"},
      {"cmd": "RCPT", "match": "later@", "reply": "450 4.2.1 Mailbox busy"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message({"good@example.net", "bad@example.net", "later@example.net"}));
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[1].reply, "550 5.1.1 No such user");
  EXPECT_EQ(r.recipients[2].outcome, Outcome::temporary);
  EXPECT_EQ(r.outcome, Outcome::temporary);  // the message still has a recipient to retry
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].rcpts, std::vector<std::string>{"RCPT TO:<good@example.net>"});
  // PIPELINING: MAIL, every RCPT and DATA arrived before the first reply was needed; order kept.
  auto commands = fake.commands();
  auto mail = std::find_if(commands.begin(), commands.end(), [](auto& c) { return c.starts_with("MAIL"); });
  ASSERT_NE(mail, commands.end());
  EXPECT_EQ(*(mail + 4), "DATA");
}

TEST_F(FakeRelay, Reply421MidSessionIsTemporaryAndUnhealthy) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "RCPT", "reply": "421 4.3.2 Service shutting down"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_TRUE(fake.messages().empty());
  EXPECT_EQ(transport.pool_stats().open_now, 0u);  // a session after 421 is never reused
}

TEST_F(FakeRelay, DropDuringDataIsTemporaryAndUnhealthy) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "DATA_BODY", "action": "drop", "after_bytes": 1000}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  std::string big = "Subject: big\r\n\r\n";
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + " of a long message body\r\n";
  DeliveryResult r = deliver(transport, message({"dest@example.net"}, big));
  EXPECT_EQ(r.outcome, Outcome::temporary) << r.reply;
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_NE(r.reply.find("connection lost"), std::string::npos) << r.reply;
  EXPECT_TRUE(fake.messages().empty());
}

TEST_F(FakeRelay, SlowRepliesPastTheTimeout) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "DATA_END", "delay": 3}])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).timeout = 1s;
  SmtpTransport transport(u, {}, {}, {}, "relay.test", io_.get_executor());
  auto started = std::chrono::steady_clock::now();
  DeliveryResult r = deliver(transport, message());
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_NE(r.reply.find("timed out"), std::string::npos) << r.reply;
  EXPECT_LT(took, 2900ms);
}

TEST_F(FakeRelay, StarttlsAndAuthThenDelivers) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->good) + R"(, "auth": {"user": "u", "password": "p"})",
                                     R"(["PIPELINING", "8BITMIME", "STARTTLS", "AUTH LOGIN"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  test::smtp_of(u).username = "u";
  test::smtp_of(u).password = "p";
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].tls);
  auto auth = fake.events("auth");
  ASSERT_EQ(auth.size(), 1u);
  EXPECT_EQ(auth[0].at("mechanism").as_string(), "LOGIN");
}

TEST_F(FakeRelay, ExpiredCertificateIsRefused) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->expired), R"(["PIPELINING", "STARTTLS"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_NE(r.outcome, Outcome::delivered);
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_NE(r.reply.find("expired"), std::string::npos) << r.reply;
  EXPECT_FALSE(saw_command(fake, "MAIL"));
}

TEST_F(FakeRelay, WrongHostNameIsRefused) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->wrong_host), R"(["PIPELINING", "STARTTLS"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_NE(r.outcome, Outcome::delivered);
  EXPECT_NE(r.reply.find("certificate verification failed"), std::string::npos) << r.reply;
  EXPECT_FALSE(saw_command(fake, "MAIL"));
}

TEST_F(FakeRelay, UnverifiedCertificateIsAcceptedOnlyWhenVerificationIsOff) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->wrong_host), R"(["PIPELINING", "STARTTLS"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  conf::SecurityConfig insecure;
  insecure.verify_certificates = false;
  SmtpTransport transport(u, insecure, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
}

TEST_F(FakeRelay, MissingStarttlsWithUseTlsIsRefusedNeverPlaintext) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  test::smtp_of(u).username = "u";
  test::smtp_of(u).password = "p";
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::upstream_refused);
  EXPECT_NE(r.reply.find("STARTTLS"), std::string::npos) << r.reply;
  for (const auto& c : fake.commands()) {
    EXPECT_TRUE(c.starts_with("EHLO") || c == "QUIT") << "sent in plaintext: " << c;
  }
}

TEST_F(FakeRelay, ResponsePipelinedBeforeTlsIsThrownAway) {
  // A man in the middle appends a reply to the 220: read after the handshake, it would answer the next EHLO.
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->good) + R"(, "starttls_inject": "250 injected\r\n")",
                                     R"(["PIPELINING", "8BITMIME", "STARTTLS", "SIZE 1000000"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  ASSERT_EQ(r.outcome, Outcome::delivered) << r.reply;
  // The real post-TLS EHLO answer was used: SIZE= shows the extensions came from the server, not "250 injected".
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].mail_from.find("SIZE=") != std::string::npos);
  EXPECT_TRUE(fake.messages()[0].tls);
}

TEST_F(FakeRelay, ImplicitTls) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(tls_members(pki_->good) + R"(, "implicit_tls": true)"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_ssl = true;
  SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].tls);
}

TEST_F(FakeRelay, FallsBackToHelo) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "EHLO", "reply": "502 5.5.2 Command not recognized"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_TRUE(saw_command(fake, "HELO relay.test"));
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].mail_from, "MAIL FROM:<sender@client.example>");
}

TEST_F(FakeRelay, OverTheServersSizeFailsBeforeAnyData) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario("", R"(["PIPELINING", "SIZE 100"])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message({"dest@example.net"}, "Subject: x\r\n\r\n" + std::string(500, 'x') + "\r\n"));
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_NE(r.reply.find("552 5.3.4"), std::string::npos) << r.reply;
  EXPECT_FALSE(saw_command(fake, "MAIL"));
}

TEST_F(FakeRelay, EightBitToASevenBitServerIsRefusedWithAClearReason) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario("", R"(["PIPELINING"])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  DeliveryResult r = deliver(transport, message({"dest@example.net"}, "Subject: x\r\n\r\nGrüße\r\n",
                                                mail::BodyType::eight_bit_mime));
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_NE(r.reply.find("8BITMIME"), std::string::npos) << r.reply;
  EXPECT_FALSE(saw_command(fake, "MAIL"));
}

TEST_F(FakeRelay, NoBareLineEndsOrLongLinesLeave) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  std::string content = "Subject: x\r\n\r\nbare lf\nbare cr\rsmuggle\n.\nMAIL FROM:<x>\r\n" + std::string(3000, 'y') +
                        "\r\n.\r\n";
  DeliveryResult r = deliver(transport, message({"dest@example.net"}, content));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_TRUE(fake.events("bare_line_end").empty());
  EXPECT_TRUE(fake.events("long_line").empty());
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].data.starts_with(
      "Subject: x\r\n\r\nbare lf\r\nbare cr\r\nsmuggle\r\n.\r\nMAIL FROM:<x>\r\n"));
  EXPECT_EQ(fake.messages().size(), 1u);  // the smuggled ".\n" did not end the message
}

TEST_F(FakeRelay, AQueuedFileShorterThanItsRecordIsNeverSentTruncated) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  OutboundMessage m = message({"dest@example.net"}, "Subject: cut\r\n\r\nthe whole body\r\n");
  std::filesystem::resize_file(m.content_path, m.content_offset + m.size - 6);  // damaged on disk
  DeliveryResult r = deliver(transport, m);
  EXPECT_EQ(r.outcome, Outcome::temporary) << r.reply;
  EXPECT_NE(r.reply.find("shorter than its record"), std::string::npos) << r.reply;
  EXPECT_TRUE(fake.messages().empty()) << "no final dot after a partial body";
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered) << "a new session for the next message";
}

TEST_F(FakeRelay, BrokenIdleConnectionIsReplacedTransparently) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "RSET", "connection": 1, "action": "drop"}])"));
  SmtpTransportHooks probe_always;
  probe_always.probe_after_idle = 0ms;
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor(),
                          probe_always);
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  DeliveryResult second = deliver(transport, message());
  EXPECT_EQ(second.outcome, Outcome::delivered) << second.reply;
  EXPECT_EQ(fake.connections(), 2);
  EXPECT_EQ(transport.pool_stats().replaced, 1u);
  EXPECT_EQ(fake.messages().size(), 2u);
}

TEST_F(FakeRelay, IdleConnectionIsReusedAfterAProbe) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  SmtpTransportHooks probe_always;
  probe_always.probe_after_idle = 0ms;  // every idle session counts as idle for long
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor(),
                          probe_always);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
  EXPECT_EQ(transport.pool_stats().reused, 2u);
  auto commands = fake.commands();
  EXPECT_EQ(std::count(commands.begin(), commands.end(), std::string("RSET")), 2);
}

TEST_F(FakeRelay, SessionUsedMomentsAgoIsReusedWithoutRset) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
  EXPECT_EQ(transport.pool_stats().reused, 2u);
  auto commands = fake.commands();
  EXPECT_EQ(std::count(commands.begin(), commands.end(), std::string("RSET")), 0);
  EXPECT_EQ(fake.messages().size(), 3u);
}

TEST_F(FakeRelay, TransactionThatEndedWithoutDataIsResetBeforeTheNextMessage) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "RCPT", "message": 1, "reply": "550 5.1.1 No such user"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::permanent);
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
  auto commands = fake.commands();
  auto second_mail = std::find_if(std::find_if(commands.begin(), commands.end(),
                                               [](const std::string& c) { return c.starts_with("MAIL"); }) + 1,
                                  commands.end(), [](const std::string& c) { return c.starts_with("MAIL"); });
  ASSERT_NE(second_mail, commands.end());
  EXPECT_EQ(*(second_mail - 1), "RSET") << "the open transaction (MAIL accepted, no recipient) is reset first";
}

TEST_F(FakeRelay, ReusedSessionClosedBeforeTheMessageGoesOnAnother) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "MAIL", "connection": 1, "message": 2, "action": "drop"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  DeliveryResult second = deliver(transport, message());
  EXPECT_EQ(second.outcome, Outcome::delivered) << second.reply;
  EXPECT_FALSE(second.upstream_unhealthy);
  EXPECT_EQ(fake.connections(), 2);
  EXPECT_EQ(fake.messages().size(), 2u);
}

TEST_F(FakeRelay, ReusedSessionAnswering421AtMailGoesOnAnother) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "MAIL", "connection": 1, "message": 2,
                                                   "reply": "421 4.4.2 fake.example Error: timeout exceeded"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  std::vector<OutboundMessage> batch{message(), message(), message()};
  auto results = test::run_to_completion(io_, transport.deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_EQ(fake.connections(), 2);
  EXPECT_EQ(fake.messages().size(), 3u);
}

TEST_F(FakeRelay, ReusedSessionLostAfterTheDataIsNeverRetried) {
  // The server has the message once it read the final dot; sending it again would deliver it twice.
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "DATA_END", "connection": 1, "message": 2, "action": "drop"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  DeliveryResult second = deliver(transport, message());
  EXPECT_EQ(second.outcome, Outcome::temporary);
  EXPECT_EQ(fake.connections(), 1);
  EXPECT_EQ(fake.messages().size(), 2u);
}

TEST_F(FakeRelay, UnreachableUpstreamIsTemporaryAndUnhealthy) {
  int port = test::free_port();  // nothing listens there
  SmtpTransport transport(test::smtp_upstream(static_cast<uint16_t>(port)), {}, {}, {}, "relay.test",
                          io_.get_executor());
  DeliveryResult r = deliver(transport, message());
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_TRUE(r.upstream_unhealthy);
  EXPECT_NE(r.reply.find("cannot connect"), std::string::npos) << r.reply;
}

TEST_F(FakeRelay, BatchToAnUnreachableUpstreamFailsEveryMessageAfterOneAttempt) {
  int port = test::free_port();
  SmtpTransport transport(test::smtp_upstream(static_cast<uint16_t>(port)), {}, {}, {}, "relay.test",
                          io_.get_executor());
  std::vector<OutboundMessage> batch{message(), message(), message()};
  auto results = test::run_to_completion(io_, transport.deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(transport.pool_stats().open_failures, 1u);
}

TEST_F(FakeRelay, BatchGoesOverOneConnectionWithResultsPerMessage) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(R"("rules": [{"cmd": "DATA_END", "message": 2, "reply": "451 4.3.0 Try later"}])"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  std::vector<OutboundMessage> batch{message(), message(), message()};
  auto results = test::run_to_completion(io_, transport.deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].outcome, Outcome::delivered);
  EXPECT_EQ(results[1].outcome, Outcome::temporary);
  EXPECT_EQ(results[1].reply, "451 4.3.0 Try later");
  EXPECT_EQ(results[2].outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
}

TEST_F(FakeRelay, IdleConnectionsCloseWithQuitAfterIdleTimeout) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(""));
  conf::ConnectionPoolConfig pool;
  pool.idle_timeout = 1s;
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, pool, {}, "relay.test", io_.get_executor());
  EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  EXPECT_EQ(transport.pool_stats().open_now, 1u);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (transport.pool_stats().open_now > 0 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(100ms);
  }
  EXPECT_EQ(transport.pool_stats().open_now, 0u);
  auto commands = fake.commands();
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back(), "QUIT");
}

TEST_F(FakeRelay, RecipientsOverTheServersLimitGoInFurtherTransactions) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(R"("max_recipients": 2)"));
  SmtpTransport transport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  std::vector<std::string> rcpts;
  for (int i = 0; i < 5; ++i) rcpts.push_back("r" + std::to_string(i) + "@example.net");
  DeliveryResult r = deliver(transport, message(rcpts));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(r.recipients.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.recipients[i].address, rcpts[i]);
    EXPECT_EQ(r.recipients[i].outcome, Outcome::delivered) << r.recipients[i].reply;
  }
  auto messages = fake.messages();
  ASSERT_EQ(messages.size(), 3u);  // 2 + 2 + 1 recipients
  EXPECT_EQ(messages[2].rcpts, std::vector<std::string>{"RCPT TO:<r4@example.net>"});
  EXPECT_EQ(fake.connections(), 1);
}

TEST_F(FakeRelay, DebugTraceIsLoggedWithAuthDataMasked) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            scenario(tls_members(pki_->good) + R"(, "auth": {"user": "u", "password": "pa55word"})",
                                     R"(["PIPELINING", "STARTTLS", "AUTH PLAIN"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  auto& smtp = test::smtp_of(u);
  smtp.use_tls = true;
  smtp.username = "u";
  smtp.password = "pa55word";
  smtp.debug_level = 1;
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("trace-test", ring));
  {
    SmtpTransport transport(u, security(), {}, {}, "relay.test", io_.get_executor());
    EXPECT_EQ(deliver(transport, message()).outcome, Outcome::delivered);
  }
  spdlog::set_default_logger(previous);
  std::string log;
  for (const auto& line : ring->last_formatted()) log += line;
  EXPECT_NE(log.find("C: EHLO relay.test"), std::string::npos) << log;
  EXPECT_NE(log.find("C: AUTH PLAIN ***"), std::string::npos) << log;
  EXPECT_NE(log.find("S: 235"), std::string::npos) << log;
  EXPECT_EQ(log.find("pa55word"), std::string::npos) << log;
  EXPECT_EQ(log.find("AHUAcGE1NXdvcmQ="), std::string::npos) << log;  // base64("\0u\0pa55word")
}

}  // namespace
}  // namespace smarthost::upstream::smtp
