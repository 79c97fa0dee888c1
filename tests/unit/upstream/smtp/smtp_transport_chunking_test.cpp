// The SMTP transport against the scriptable fake server when it offers CHUNKING (RFC 3030): each message goes as
// one "BDAT <n> LAST" chunk behind its MAIL and RCPT, and every failure still means what it means after DATA.
#include <fcntl.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/unit/upstream/smtp/fake_relay_fixture.h"
#include "upstream/smtp/client_protocol.h"
#include "upstream/smtp/dot_stuffer.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

class FakeChunkingRelay : public FakeRelay {
 protected:
  std::string chunking(const std::string& extra = {},
                       const std::string& ehlo = R"(["PIPELINING", "CHUNKING", "8BITMIME", "SIZE 2000000"])") {
    return scenario(extra, ehlo);
  }
  SmtpTransport transport(const test::FakeSmtpServer& fake) {
    return SmtpTransport(test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  }
  // Message 2 meets `rule` on the reused session and goes at once on a new one: both arrive, once each.
  void expect_second_goes_on_another(const std::string& rule) {
    test::FakeSmtpServer fake(dir_.path() / "fake", chunking(R"("rules": [)" + rule + "]"));
    SmtpTransport t = transport(fake);
    EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
    DeliveryResult second = deliver(t, message());
    EXPECT_EQ(second.outcome, Outcome::delivered) << second.reply;
    EXPECT_EQ(fake.connections(), 2);
    EXPECT_EQ(fake.messages().size(), 2u);
  }
  static long count_of(const std::vector<std::string>& commands, const std::string& prefix) {
    return std::count_if(commands.begin(), commands.end(), [&](const std::string& c) { return c.starts_with(prefix); });
  }
};

TEST_F(FakeChunkingRelay, MessageGoesInOneChunkWithItsCommands) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  DeliveryResult r = deliver(t, message({"dest@example.net"}, "Subject: x\r\n\r\n.leading dot\r\nbare lf\nend"));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_EQ(r.remote_id, "FAKE1");
  ASSERT_EQ(fake.messages().size(), 1u);
  const std::string expected = "Subject: x\r\n\r\n.leading dot\r\nbare lf\r\nend\r\n";  // no dot-stuffing in a chunk
  EXPECT_EQ(fake.messages()[0].data, expected);
  auto chunks = fake.events("bdat");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].at("size").as_int64(), static_cast<int64_t>(expected.size()));
  EXPECT_TRUE(chunks[0].at("last").as_bool());
  EXPECT_EQ(count_of(fake.commands(), "DATA"), 0);
  EXPECT_TRUE(fake.events("bare_line_end").empty());
  // When the server read MAIL, RCPT, the BDAT command and the chunk had already arrived behind it: one write.
  for (const auto& e : fake.events("command")) {
    if (std::string(e.at("line").as_string()).starts_with("MAIL")) {
      EXPECT_GE(e.at("buffered").as_int64(), static_cast<int64_t>(expected.size()));
    }
  }
}

TEST_F(FakeChunkingRelay, SmugglingSequencesStayText) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  DeliveryResult r =
      deliver(t, message({"dest@example.net"}, "Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\n"));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(count_of(fake.commands(), "MAIL"), 1);
  EXPECT_EQ(fake.messages()[0].data, "Subject: x\r\n\r\nhi\r\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\n");
}

TEST_F(FakeChunkingRelay, ManyMessagesShareOneSessionWithoutRset) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
  EXPECT_EQ(fake.messages().size(), 5u);
  EXPECT_EQ(count_of(fake.commands(), "RSET"), 0);
  EXPECT_EQ(fake.events("bdat").size(), 5u);
}

TEST_F(FakeChunkingRelay, LargeMessageStreamsAfterData) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  std::string big = "Subject: big\r\n\r\n";
  while (big.size() <= ClientProtocol::kMaxChunk) big += "a line of a message over one chunk\r\n";
  EXPECT_EQ(deliver(t, message({"dest@example.net"}, big)).outcome, Outcome::delivered);
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].data, big);
  EXPECT_EQ(count_of(fake.commands(), "DATA"), 1);
  EXPECT_TRUE(fake.events("bdat").empty());
}

TEST_F(FakeChunkingRelay, ChunkingOffSendsEveryMessageAfterData) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).chunking = false;
  SmtpTransport t(u, {}, {}, {}, "relay.test", io_.get_executor());
  EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
  EXPECT_EQ(count_of(fake.commands(), "DATA"), 1);
  EXPECT_TRUE(fake.events("bdat").empty());
}

TEST_F(FakeChunkingRelay, PerRecipientResults) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            chunking(R"("rules": [{"cmd": "RCPT", "match": "bad@", "reply": "550 5.1.1 No such user"}])"));
  SmtpTransport t = transport(fake);
  DeliveryResult r = deliver(t, message({"good@example.net", "bad@example.net"}));
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[1].reply, "550 5.1.1 No such user");
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].rcpts.size(), 1u);
}

TEST_F(FakeChunkingRelay, EveryRecipientRefusedKeepsTheirReplies) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            chunking(R"("rules": [{"cmd": "RCPT", "reply": "550 5.1.1 No such user"}])"));
  SmtpTransport t = transport(fake);
  DeliveryResult r = deliver(t, message({"a@example.net", "b@example.net"}));
  EXPECT_EQ(r.outcome, Outcome::permanent);
  for (const auto& rcpt : r.recipients) EXPECT_EQ(rcpt.reply, "550 5.1.1 No such user");
  EXPECT_TRUE(fake.messages().empty());
  EXPECT_EQ(deliver(t, message()).outcome, Outcome::permanent);  // the session stayed in step
  EXPECT_EQ(fake.connections(), 1);
}

TEST_F(FakeChunkingRelay, RefusedChunkIsResetBeforeTheNextMessage) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            chunking(R"("rules": [{"cmd": "BDAT", "message": 1,
                                                   "reply": "452 4.3.1 Insufficient system storage"}])"));
  SmtpTransport t = transport(fake);
  DeliveryResult first = deliver(t, message());
  EXPECT_EQ(first.outcome, Outcome::temporary);
  EXPECT_EQ(first.reply, "452 4.3.1 Insufficient system storage");
  EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
  EXPECT_EQ(fake.connections(), 1);
  auto commands = fake.commands();
  auto second_mail = std::find_if(commands.begin() + 1 + (std::find_if(commands.begin(), commands.end(),
                                                                       [](const std::string& c) { return c.starts_with("MAIL"); }) -
                                                          commands.begin()),
                                  commands.end(), [](const std::string& c) { return c.starts_with("MAIL"); });
  ASSERT_NE(second_mail, commands.end());
  EXPECT_EQ(*(second_mail - 1), "RSET");
  EXPECT_EQ(fake.messages().size(), 1u);
}

TEST_F(FakeChunkingRelay, ReusedSessionClosedBeforeAnyReplyGoesOnAnother) {
  expect_second_goes_on_another(R"({"cmd": "MAIL", "connection": 1, "message": 2, "action": "drop"})");
}

TEST_F(FakeChunkingRelay, ReusedSessionAnswering421AtMailGoesOnAnother) {
  expect_second_goes_on_another(
      R"({"cmd": "MAIL", "connection": 1, "message": 2, "reply": "421 4.4.2 fake.example Error: timeout exceeded"})");
}

TEST_F(FakeChunkingRelay, SessionLostAfterTheChunkIsNeverRetriedAtOnce) {
  // The server has the message once it read the last chunk; sending it again at once would deliver it twice.
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            chunking(R"("rules": [{"cmd": "BDAT", "connection": 1, "message": 2, "action": "drop"}])"));
  SmtpTransport t = transport(fake);
  EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
  DeliveryResult second = deliver(t, message());
  EXPECT_EQ(second.outcome, Outcome::temporary);
  EXPECT_EQ(fake.connections(), 1);
  EXPECT_EQ(fake.messages().size(), 2u);
}

TEST_F(FakeChunkingRelay, AQueuedFileShorterThanItsRecordSendsNothing) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  OutboundMessage m = message({"dest@example.net"}, "Subject: cut\r\n\r\nthe whole body\r\n");
  std::filesystem::resize_file(m.content_path, m.content_offset + m.size - 6);
  DeliveryResult r = deliver(t, m);
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_NE(r.reply.find("shorter than its record"), std::string::npos) << r.reply;
  EXPECT_TRUE(fake.messages().empty());
  EXPECT_FALSE(saw_command(fake, "MAIL")) << "the commands wait for the chunk, which was never complete";
  EXPECT_EQ(deliver(t, message()).outcome, Outcome::delivered);
}

// The spool kept the file open (mail/content_file.h): the transport reads through that descriptor and opens
// nothing, so the message goes even with its name gone.
TEST_F(FakeChunkingRelay, AKeptOpenFileIsReadThroughItsDescriptor) {
  test::FakeSmtpServer fake(dir_.path() / "fake", chunking());
  SmtpTransport t = transport(fake);
  OutboundMessage m = message({"dest@example.net"}, "Subject: kept\r\n\r\nread through the descriptor\r\n");
  auto budget = std::make_shared<mail::ContentFile::Budget>(4);
  m.content_file = mail::ContentFile::adopt(::open(m.content_path.c_str(), O_RDONLY | O_CLOEXEC), budget);
  ASSERT_TRUE(m.content_file);
  ASSERT_TRUE(std::filesystem::remove(m.content_path));
  DeliveryResult r = deliver(t, m);
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_EQ(fake.messages()[0].data, "Subject: kept\r\n\r\nread through the descriptor\r\n");
  EXPECT_GE(fcntl(m.content_file->fd(), F_GETFD), 0) << "the transport leaves the spool's descriptor open";
  m.content_file.reset();
  EXPECT_EQ(budget->open.load(), 0u) << "closed with its last holder";
}

TEST_F(FakeChunkingRelay, OverStarttlsWithAuth) {
  test::FakeSmtpServer fake(dir_.path() / "fake",
                            chunking(tls_members(pki_->good) + R"(, "auth": {"user": "u", "password": "p"})",
                                     R"(["PIPELINING", "CHUNKING", "STARTTLS", "AUTH PLAIN"])"));
  conf::Upstream u = test::smtp_upstream(fake.port());
  test::smtp_of(u).use_tls = true;
  test::smtp_of(u).username = "u";
  test::smtp_of(u).password = "p";
  SmtpTransport t(u, security(), {}, {}, "relay.test", io_.get_executor());
  std::string body = "Subject: tls\r\n\r\n" + std::string(70000, 'z') + "\r\n";  // several TLS records
  DeliveryResult r = deliver(t, message({"dest@example.net"}, body));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].tls);
  EXPECT_EQ(fake.events("bdat").size(), 1u);
  std::string folded;  // the long line folded, never cut
  DotStuffer encoder(DotStuffer::Framing::bdat);
  encoder.feed(body, folded);
  encoder.finish(folded);
  EXPECT_EQ(fake.messages()[0].data, folded);
  EXPECT_TRUE(fake.events("long_line").empty());
}

}  // namespace
}  // namespace smarthost::upstream::smtp
