// Scenario: an upstream's send rate through `smarthost serve`, both ways. queue_on_limit = true: every message is
// accepted and they go out spaced at max_send_rate. queue_on_limit = false: once the upstream holds more than it
// can send within options.timeout, new recipients get "451 4.7.0"; when the backlog has drained, mail is taken
// again.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(PolicyQueueOnLimit, TrueQueuesAndSpacesTheDeliveries) {
  TempDir out;
  RelayOptions o;  // 2 per second, one at a time
  o.upstream = "provider = \"file\"\n[config]\ndir = \"" + (out.path() / "outbox").string() +
               "\"\n[options]\nmax_send_rate = 2\nburst_limit = 1\nqueue_on_limit = true\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  ASSERT_EQ(reply_code(wire.reply()), 220);
  wire.command("EHLO client.test");
  for (int i = 0; i < 5; ++i) {
    auto s = submit(wire, Letter{});
    EXPECT_TRUE(s.accepted()) << i << ": " << (s.rcpts.empty() ? s.mail : s.rcpts.back()) << s.end;
  }
  wire.command("QUIT");

  std::vector<std::filesystem::file_time_type> times;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    times.clear();
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(out.path() / "outbox", ec))
      if (e.path().extension() == ".eml") times.push_back(e.last_write_time());
    if (times.size() == 5) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(times.size(), 5u) << relay.log();
  std::sort(times.begin(), times.end());
  // Four gaps of 500 ms at 2 per second; back to back they would take a few milliseconds.
  EXPECT_GE(times.back() - times.front(), 1700ms);
  for (size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 350ms) << i;
}

TEST(PolicyQueueOnLimit, FalseDefersNewMailWhileTheBacklogIsTooLong) {
  TempDir out;
  RelayOptions o;
  o.upstream = "provider = \"file\"\n[config]\ndir = \"" + (out.path() / "outbox").string() +
               "\"\n[options]\nmax_send_rate = 1\nburst_limit = 1\nqueue_on_limit = false\ntimeout = 1\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  ASSERT_EQ(reply_code(wire.reply()), 220);
  wire.command("EHLO client.test");
  int accepted = 0, deferred = 0;
  for (int i = 0; i < 5; ++i) {
    auto s = submit(wire, Letter{});
    if (s.accepted()) {
      ++accepted;
    } else {
      ASSERT_FALSE(s.rcpts.empty()) << s.mail;
      EXPECT_EQ(reply_code(s.rcpts.back()), 451) << s.rcpts.back();
      EXPECT_NE(s.rcpts.back().find("4.7.0"), std::string::npos) << s.rcpts.back();
      ++deferred;
    }
  }
  // One goes at once, one waits a second (within the timeout); the rest would wait longer.
  EXPECT_EQ(accepted, 2) << relay.log();
  EXPECT_EQ(deferred, 3);

  // What was accepted is delivered; after that the relay takes mail again.
  std::this_thread::sleep_for(1500ms);
  auto s = submit(wire, Letter{});
  EXPECT_TRUE(s.accepted()) << (s.rcpts.empty() ? s.mail : s.rcpts.back());
  wire.command("QUIT");
  size_t n = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline && n < 3;) {
    n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(out.path() / "outbox", ec)) n += e.path().extension() == ".eml";
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(n, 3u) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
