// SMTP smuggling (CVE-2023-51764/51765/51766) against the real server: for each fake terminator, the bytes after
// it must never run as commands. With bare_lf = "reject" the message is refused (550 5.5.2) and nothing is queued;
// with "normalize" exactly one message is accepted and the smuggled commands are part of its text.
#include <gtest/gtest.h>

#include "tests/support/relay.h"
#include "tests/support/smtp_wire.h"

using namespace smarthost::test;

namespace {

const std::vector<std::pair<std::string, std::string>> kFakeTerminators = {
    {"LF.LF", "\n.\n"},   {"LF.CRLF", "\n.\r\n"},        {"CR.LF", "\r.\n"},
    {"CR.CRLF", "\r.\r\n"}, {"CRLF NUL . CRLF", "\r\n\x00.\r\n"},
};

// The smuggled transaction that must never run.
const std::string kSmuggled =
    "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
    "Subject: smuggled\r\n\r\nsmuggled body\r\n";

// Sends one message whose body carries a fake terminator followed by a smuggled transaction, then the real end.
// Returns every reply received after DATA's 354, until QUIT's.
std::string send_with_fake_terminator(int port, const std::string& fake) {
  SmtpWire wire(port);
  EXPECT_EQ(reply_code(wire.reply()), 220);
  EXPECT_EQ(reply_code(wire.command("EHLO client.example")), 250);
  EXPECT_EQ(reply_code(wire.command("MAIL FROM:<sender@example.org>")), 250);
  EXPECT_EQ(reply_code(wire.command("RCPT TO:<rcpt@example.net>")), 250);
  EXPECT_EQ(reply_code(wire.command("DATA")), 354);
  wire.send("Subject: innocent\r\n\r\nhello" + fake + kSmuggled + "\r\n.\r\n");
  std::string replies = wire.reply();
  wire.send("QUIT\r\n");
  replies += wire.drain(std::chrono::milliseconds(1500));
  return replies;
}

}  // namespace

TEST(SmtpSmuggling, RejectModeRefusesEachSequenceAndRunsNothing) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  for (const auto& [name, fake] : kFakeTerminators) {
    std::string replies = send_with_fake_terminator(relay.port(), fake);
    // NUL before a dot is not a bare line end: that message is accepted whole (the NUL is data).
    bool bare = name != "CRLF NUL . CRLF";
    if (bare) {
      EXPECT_EQ(replies.rfind("550 5.5.2", 0), 0u) << name << ": " << replies;
    } else {
      EXPECT_EQ(replies.rfind("250 2.0.0", 0), 0u) << name << ": " << replies;
    }
    // Exactly one end-of-data reply, then QUIT's 221: no reply to a smuggled MAIL, RCPT or DATA.
    EXPECT_EQ(replies.find("250 2.1.0"), std::string::npos) << name << ": " << replies;
    EXPECT_EQ(replies.find("354"), std::string::npos) << name << ": " << replies;
    EXPECT_NE(replies.find("221 2.0.0"), std::string::npos) << name << ": " << replies;
  }
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  auto delivered = relay.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  std::string only = read_file(delivered[0]);
  EXPECT_NE(only.find("smuggled body"), std::string::npos) << "the smuggled text stayed inside the one message";
  for (const auto& f : relay.delivered(".json"))
    EXPECT_EQ(read_file(f).find("victim@example.net"), std::string::npos) << "a smuggled RCPT ran";
}

TEST(SmtpSmuggling, NormalizeModeAcceptsOneMessageWithTheSmuggledTextInside) {
  RelayOptions o;
  o.server_extra = "bare_lf = \"normalize\"\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  for (const auto& [name, fake] : kFakeTerminators) {
    std::string replies = send_with_fake_terminator(relay.port(), fake);
    EXPECT_EQ(replies.rfind("250 2.0.0", 0), 0u) << name << ": " << replies;
    EXPECT_EQ(replies.find("250 2.1.0"), std::string::npos) << name << ": " << replies;
  }
  ASSERT_TRUE(relay.wait_delivered(kFakeTerminators.size())) << relay.log();
  for (const auto& f : relay.delivered()) {
    std::string m = read_file(f);
    EXPECT_NE(m.find("smuggled body"), std::string::npos);
    // No bare CR or LF is passed on.
    for (size_t i = 0; i < m.size(); ++i) {
      if (m[i] == '\n') {
        ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << f << " has a bare LF at " << i;
      }
      if (m[i] == '\r') {
        ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << f << " has a bare CR at " << i;
      }
    }
  }
  for (const auto& f : relay.delivered(".json"))
    EXPECT_EQ(read_file(f).find("victim@example.net"), std::string::npos) << "a smuggled RCPT ran";
}
