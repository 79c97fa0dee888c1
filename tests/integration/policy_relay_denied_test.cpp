// Scenario: relay rules through `smarthost serve`. With require_auth an unauthenticated client cannot send; an
// authenticated one can, but only from the senders its users-file line names; allowed_recipient_domains refuses
// other domains and the open-relay forms (%-hack, quoted '@', bang path, source route) that would escape it.
#include <gtest/gtest.h>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

// base64("\0alice\0s3cret")
const std::string kAlice = "AGFsaWNlAHMzY3JldA==";

std::string users_line(const std::string& user, const std::string& password, const std::string& senders) {
  auto r = run({smarthost_bin().string(), "passwd", user}, password + "\n");
  std::string line = r.out.substr(0, r.out.find('\n'));
  return line + (senders.empty() ? "" : ":" + senders) + "\n";
}

struct RelayWithUsers {
  TempDir users_dir;
  std::unique_ptr<Relay> relay;
  explicit RelayWithUsers(const std::string& server_extra) {
    auto users = users_dir.write("users", users_line("alice", "s3cret", "alice@example.com,@billing.example.com"));
    RelayOptions o;
    o.server_extra = "users_file = \"" + users.string() + "\"\nallow_plaintext_auth = true\n" + server_extra;
    relay = std::make_unique<Relay>(o);
  }
};

TEST(PolicyRelayDenied, UnauthenticatedClientCannotSend) {
  RelayWithUsers r("require_auth = true\n");
  ASSERT_TRUE(r.relay->start()) << r.relay->log();
  auto s = submit(r.relay->port(), Letter{});
  EXPECT_EQ(reply_code(s.mail), 530) << s.mail;
  EXPECT_FALSE(s.accepted());

  Letter authed;
  authed.from = "alice@example.com";
  authed.auth_plain = kAlice;
  auto ok = submit(r.relay->port(), authed);
  EXPECT_TRUE(ok.accepted()) << ok.mail << ok.end;
  EXPECT_TRUE(r.relay->wait_delivered(1)) << r.relay->log();
}

TEST(PolicyRelayDenied, UsersSendOnlyAsTheirOwnAddresses) {
  RelayWithUsers r("require_auth = true\n");
  ASSERT_TRUE(r.relay->start()) << r.relay->log();
  Letter l;
  l.auth_plain = kAlice;
  l.from = "ceo@example.com";
  auto s = submit(r.relay->port(), l);
  EXPECT_EQ(reply_code(s.mail), 553) << s.mail;
  l.from = "invoices@billing.example.com";
  EXPECT_TRUE(submit(r.relay->port(), l).accepted());
}

TEST(PolicyRelayDenied, RecipientDomainsAndOpenRelayForms) {
  RelayWithUsers r("allowed_recipient_domains = [\"example.net\"]\n");
  ASSERT_TRUE(r.relay->start()) << r.relay->log();
  SmtpWire wire(r.relay->port());
  ASSERT_EQ(reply_code(wire.reply()), 220);
  wire.command("EHLO client.test");
  ASSERT_EQ(reply_code(wire.command("MAIL FROM:<app@example.com>")), 250);
  EXPECT_EQ(reply_code(wire.command("RCPT TO:<user@example.net>")), 250);
  for (const char* probe : {"<user@elsewhere.example>", "<v%ext.example@example.net>", "<\"v@ext.example\"@example.net>",
                            "<ext.example!v@example.net>", "<@example.net:v@ext.example>"}) {
    std::string reply = wire.command(std::string("RCPT TO:") + probe);
    EXPECT_EQ(reply_code(reply), 554) << probe << ": " << reply;
    EXPECT_NE(reply.find("5.7.1"), std::string::npos) << reply;
  }
  EXPECT_EQ(reply_code(wire.command("DATA")), 354);
  wire.send("Subject: x\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(reply_code(wire.reply()), 250);
  ASSERT_TRUE(r.relay->wait_delivered(1));
  auto envelope = read_file(r.relay->delivered(".json").front());
  EXPECT_NE(envelope.find("\"recipients\":[\"user@example.net\"]"), std::string::npos) << envelope;
}

}  // namespace
}  // namespace smarthost::test
