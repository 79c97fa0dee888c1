// The alert rules: each condition fires once, cooldown spaces notices, and a recovery notice follows.
#include "ops/alert_rules.h"

#include <gtest/gtest.h>

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;
const auto t0 = std::chrono::system_clock::time_point{} + 1000h;

AlertThresholds thresholds(std::chrono::seconds cooldown = 600s) {
  AlertThresholds t;
  t.error_rate = 0.05;
  t.p95_latency_ms = 5000;
  t.queue_size = 100;
  t.min_attempts = 10;
  t.cooldown = cooldown;
  return t;
}

TEST(AlertRules, NothingFiresWhenAllIsWell) {
  AlertRules rules(thresholds());
  AlertInputs in;
  in.attempts = 100;
  in.error_rate = 0.01;
  in.p95_latency_ms = 200;
  in.queue_size = 5;
  EXPECT_TRUE(rules.evaluate(in, t0).empty());
  EXPECT_TRUE(rules.active().empty());
}

TEST(AlertRules, EachConditionFiresOnceWithItsKey) {
  AlertRules rules(thresholds());
  AlertInputs in;
  in.attempts = 20;
  in.error_rate = 0.5;
  in.p95_latency_ms = 8000;
  in.queue_size = 101;
  in.upstreams_down = {"mailgun0"};
  in.circuits_open = {"smtp1"};
  auto notices = rules.evaluate(in, t0);
  std::vector<std::string> keys;
  for (const auto& n : notices) {
    EXPECT_EQ(n.state, AlertState::firing);
    keys.push_back(n.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"circuit_open:smtp1", "error_rate", "latency_p95", "queue_size",
                                            "upstream_down:mailgun0"}));
  EXPECT_EQ(notices[0].rule, "circuit_open");
  EXPECT_EQ(notices[0].upstream, "smtp1");
  EXPECT_NE(notices[1].summary.find("50.0%"), std::string::npos) << notices[1].summary;
  EXPECT_TRUE(rules.evaluate(in, t0 + 1s).empty()) << "a firing alert is announced once";
  EXPECT_EQ(rules.active().size(), 5u);
}

TEST(AlertRules, TooFewAttemptsSayNothingAboutTheErrorRate) {
  AlertRules rules(thresholds());
  AlertInputs in;
  in.attempts = 3;
  in.error_rate = 1.0;
  EXPECT_TRUE(rules.evaluate(in, t0).empty());
}

TEST(AlertRules, RecoveryFollowsAnAnnouncedAlert) {
  AlertRules rules(thresholds());
  AlertInputs down;
  down.upstreams_down = {"mailgun0"};
  ASSERT_EQ(rules.evaluate(down, t0).size(), 1u);
  auto notices = rules.evaluate(AlertInputs{}, t0 + 30s);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].key, "upstream_down:mailgun0");
  EXPECT_EQ(notices[0].state, AlertState::resolved);
  EXPECT_EQ(notices[0].since, t0);
  EXPECT_EQ(notices[0].summary, "recovered after 30s (was: upstream mailgun0 is down: its health checks fail)");
  EXPECT_TRUE(rules.active().empty());
}

TEST(AlertRules, CooldownHoldsBackARepeatUntilItHasPassed) {
  AlertRules rules(thresholds(600s));
  AlertInputs down;
  down.upstreams_down = {"a"};
  ASSERT_EQ(rules.evaluate(down, t0).size(), 1u);                   // fires
  ASSERT_EQ(rules.evaluate(AlertInputs{}, t0 + 10s).size(), 1u);    // recovers
  EXPECT_TRUE(rules.evaluate(down, t0 + 20s).empty());              // fires again within cooldown: held back
  EXPECT_TRUE(rules.evaluate(AlertInputs{}, t0 + 30s).empty());     // and its recovery with it
  EXPECT_TRUE(rules.evaluate(down, t0 + 40s).empty());
  auto later = rules.evaluate(down, t0 + 10s + 600s);               // still firing once the cooldown is over
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].state, AlertState::firing);
}

TEST(AlertRules, ZeroCooldownAnnouncesEveryChange) {
  AlertRules rules(thresholds(0s));
  AlertInputs q;
  q.queue_size = 500;
  for (int i = 0; i < 3; ++i) {
    auto fired = rules.evaluate(q, t0 + std::chrono::seconds(2 * i));
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].state, AlertState::firing);
    auto resolved = rules.evaluate(AlertInputs{}, t0 + std::chrono::seconds(2 * i + 1));
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_EQ(resolved[0].state, AlertState::resolved);
  }
}

TEST(AlertRules, DurationsAndDatesAreFormatted) {
  EXPECT_EQ(format_duration(300s), "5m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(7200s), "2h");
  auto when = std::chrono::system_clock::from_time_t(1714564800);  // 2024-05-01 12:00:00 UTC
  EXPECT_EQ(format_rfc3339(when), "2024-05-01T12:00:00Z");
  EXPECT_EQ(format_rfc5322(when), "Wed, 01 May 2024 12:00:00 +0000");
}

}  // namespace
}  // namespace smarthost::ops
