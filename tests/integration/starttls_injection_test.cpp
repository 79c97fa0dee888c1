// STARTTLS command injection (CVE-2011-0411): plaintext pipelined after STARTTLS is thrown away, so a NOOP sent
// in the same write never gets a reply over TLS; the session restarts (EHLO required, STARTTLS not offered again).
#include <gtest/gtest.h>

#include "tests/support/relay.h"
#include "tests/support/smtp_wire.h"

using namespace smarthost::test;

TEST(StartTlsInjection, PipelinedPlaintextAfterStartTlsIsDiscarded) {
  RelayOptions o;
  o.tls = true;
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  EXPECT_EQ(reply_code(wire.reply()), 220);
  std::string ehlo = wire.command("EHLO client.example");
  EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
  // One write: STARTTLS plus an injected command (and an injected transaction).
  wire.send("STARTTLS\r\nNOOP\r\nMAIL FROM:<injected@example.org>\r\n");
  std::string ready = wire.reply();
  EXPECT_EQ(reply_code(ready), 220) << ready;
  ASSERT_TRUE(wire.start_tls());
  // Nothing may arrive over TLS before we speak: a reply here would be the injected NOOP's.
  EXPECT_EQ(wire.drain(std::chrono::milliseconds(500)), "");
  // The session starts over: MAIL needs a new EHLO, and STARTTLS is not offered again.
  EXPECT_EQ(reply_code(wire.command("MAIL FROM:<a@example.org>")), 503);
  std::string again = wire.command("EHLO client.example");
  EXPECT_EQ(reply_code(again), 250);
  EXPECT_EQ(again.find("STARTTLS"), std::string::npos) << again;
  EXPECT_EQ(reply_code(wire.command("MAIL FROM:<a@example.org>")), 250);
}

TEST(StartTlsInjection, NotOfferedWithoutCertificate) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  wire.reply();
  std::string ehlo = wire.command("EHLO client.example");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
  EXPECT_EQ(reply_code(wire.command("STARTTLS")), 502);
}
