// Resource limits of the real server: connections per IP, command timeout, the error limit, long lines, the size
// limit, and many idle connections held while a new client is served at once.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <thread>

#include "tests/support/relay.h"
#include "tests/support/smtp_wire.h"

using namespace smarthost::test;

TEST(SmtpLimits, ConnectionsPerIpOverTheLimitGet421) {
  RelayOptions o;
  o.server_extra = "max_connections_per_ip = 3\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  std::vector<std::unique_ptr<SmtpWire>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<SmtpWire>(relay.port()));
    EXPECT_EQ(reply_code(held.back()->reply()), 220);
  }
  SmtpWire extra(relay.port());
  std::string refused = extra.reply();
  EXPECT_EQ(refused.rfind("421 4.7.0", 0), 0u) << refused;
  EXPECT_TRUE(extra.closed_by_peer());
  // Once one leaves, a new client is welcome again.
  held.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  SmtpWire again(relay.port());
  EXPECT_EQ(reply_code(again.reply()), 220);
}

TEST(SmtpLimits, IdleClientTimesOutWith421) {
  RelayOptions o;
  o.server_extra = "command_timeout = 1\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  EXPECT_EQ(reply_code(wire.reply()), 220);
  std::string late = wire.reply(std::chrono::seconds(5));
  EXPECT_EQ(late.rfind("421 4.4.2", 0), 0u) << late;
  EXPECT_TRUE(wire.closed_by_peer());
}

TEST(SmtpLimits, TooManyErrorsCloseTheSession) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  wire.reply();
  std::string last;
  for (int i = 0; i < 25 && wire.connected(); ++i) {
    last = wire.command("BOGUS");
    if (last.rfind("421", 0) == 0) break;
  }
  EXPECT_EQ(last.rfind("421 4.7.0", 0), 0u) << last;
  EXPECT_TRUE(wire.closed_by_peer());
}

TEST(SmtpLimits, LongCommandLinesAndOversizeMessagesAreRefused) {
  RelayOptions o;
  o.server_extra = "max_message_size = 2000\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  wire.reply();
  std::string ehlo = wire.command("EHLO client.example");
  EXPECT_NE(ehlo.find("SIZE 2000"), std::string::npos) << ehlo;
  EXPECT_EQ(wire.command("NOOP " + std::string(600, 'x')).rfind("500 5.5.6", 0), 0u);
  EXPECT_EQ(wire.command("MAIL FROM:<a@example.org> SIZE=5000").rfind("552 5.3.4", 0), 0u);
  EXPECT_EQ(reply_code(wire.command("MAIL FROM:<a@example.org>")), 250);
  EXPECT_EQ(reply_code(wire.command("RCPT TO:<b@example.net>")), 250);
  EXPECT_EQ(reply_code(wire.command("DATA")), 354);
  wire.send("Subject: big\r\n\r\n" + std::string(3000, 'y') + "\r\n.\r\n");
  EXPECT_EQ(wire.reply().rfind("552 5.3.4", 0), 0u);
  // The session goes on after the refusal.
  EXPECT_EQ(reply_code(wire.command("RSET")), 250);
}

TEST(SmtpLimits, ManyIdleConnectionsAndASlowClientDoNotDelayOthers) {
  constexpr int kIdle = 1000;  // CI scale; the 10,000-connection run is a benchmark (bench/)
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 8192);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < kIdle + 100) GTEST_SKIP() << "open-file limit too low";
  RelayOptions o;
  o.server_extra = "max_connections = 5000\nmax_connections_per_ip = 5000\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  std::vector<std::unique_ptr<SmtpWire>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<SmtpWire>(relay.port()));
    ASSERT_EQ(reply_code(idle.back()->reply()), 220) << "connection " << i;
  }
  // A slow client stalls in the middle of DATA.
  SmtpWire slow(relay.port());
  slow.reply();
  slow.command("EHLO slow.example");
  slow.command("MAIL FROM:<slow@example.org>");
  slow.command("RCPT TO:<b@example.net>");
  slow.command("DATA");
  slow.send("Subject: slow\r\n\r\nhalf a message");
  // A new client still completes a whole transaction promptly.
  auto start = std::chrono::steady_clock::now();
  SmtpWire quick(relay.port());
  EXPECT_EQ(reply_code(quick.reply()), 220);
  quick.command("EHLO quick.example");
  quick.command("MAIL FROM:<quick@example.org>");
  quick.command("RCPT TO:<b@example.net>");
  EXPECT_EQ(reply_code(quick.command("DATA")), 354);
  quick.send("Subject: quick\r\n\r\nfast\r\n.\r\n");
  EXPECT_EQ(reply_code(quick.reply()), 250);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2));
  // Every idle connection is still there and answers.
  EXPECT_EQ(reply_code(idle.front()->command("NOOP")), 250);
  EXPECT_EQ(reply_code(idle.back()->command("NOOP")), 250);
  // The slow client finishes too.
  slow.send("\r\n.\r\n");
  EXPECT_EQ(reply_code(slow.reply()), 250);
  EXPECT_TRUE(relay.wait_delivered(2)) << relay.log();
}
