// Scenario: a throttling answer slows the sending, through `smarthost serve` with an SMTP upstream (the fake
// server answers "454 4.7.0 Throttling failure" once). With adaptive_rate_limiting the rate drops by the factor
// (20/s -> 2/s), so five messages that would go out at once take about two seconds.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

void add_to_table(const Relay& relay, const std::string& table, const std::string& line) {
  std::string cfg = read_file(relay.config_path());
  auto at = cfg.find(table + "\n");
  ASSERT_NE(at, std::string::npos);
  cfg.insert(at + table.size() + 1, line + "\n");
  std::ofstream(relay.config_path()) << cfg;
}

TEST(PolicyThrottle, ThrottlingLowersTheSendRate) {
  TempDir peer;
  FakeSmtpServer fake(peer.path(),
                      R"({"rules": [{"cmd": "MAIL", "message": 1,
                                     "reply": "454 4.7.0 Throttling failure: Maximum sending rate exceeded"}]})");
  RelayOptions o;
  o.upstream = "provider = \"smtp\"\nname = \"throttled\"\n[config]\nhost = \"127.0.0.1\"\nport = " +
               std::to_string(fake.port()) +
               "\n[options]\nmax_send_rate = 20\nrate_limit_window = 1\nadaptive_rate_limiting = true\n"
               "min_rate_limit = 1\nmax_rate_limit = 20\nrate_adjustment_factor = 0.9\n";
  Relay relay(o);
  add_to_table(relay, "[queue]", "retry_schedule = [1]");
  if (!relay.start()) {
    if (relay.log().find("is not available in this build") != std::string::npos)
      GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
    FAIL() << relay.log();
  }

  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  auto throttled_at = std::chrono::steady_clock::now();
  for (auto deadline = throttled_at + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (relay.log().find("rate lowered") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(relay.log().find("upstream=throttled rate lowered"), std::string::npos) << relay.log();
  throttled_at = std::chrono::steady_clock::now();

  SmtpWire wire(relay.port());
  ASSERT_EQ(reply_code(wire.reply()), 220);
  wire.command("EHLO client.test");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(submit(wire, Letter{}).accepted());
  wire.command("QUIT");

  // Five messages (the throttled one again, and four new) at 2 per second after an emptied bucket.
  for (auto deadline = throttled_at + 10s; std::chrono::steady_clock::now() < deadline;) {
    if (fake.messages().size() >= 5) break;
    std::this_thread::sleep_for(10ms);
  }
  auto took = std::chrono::steady_clock::now() - throttled_at;
  ASSERT_EQ(fake.messages().size(), 5u) << relay.log();
  EXPECT_GE(took, 1800ms) << "at 20 per second they would all have gone at once";
}

}  // namespace
}  // namespace smarthost::test
