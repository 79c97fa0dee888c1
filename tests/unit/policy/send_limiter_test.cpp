// SendLimiter: the one limiter built from rate_limit/rate_limit_window, burst_limit and max_send_rate; the
// adaptive rate within its bounds; Retry-After pauses; backlog estimates. Fake time only.
#include "policy/send_limiter.h"

#include <gtest/gtest.h>

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;
using upstream::DeliveryResult;
using upstream::Outcome;
const SteadyTime t0 = SteadyTime{} + 1000h;
const WallTime w0 = WallTime{} + 24h * 365 * 50;

DeliveryResult delivered() {
  DeliveryResult r;
  r.outcome = Outcome::delivered;
  return r;
}
DeliveryResult throttled() {
  DeliveryResult r;
  r.outcome = Outcome::temporary;
  r.throttled = true;
  return r;
}

TEST(SendLimiter, NoOptionsMeansNoLimit) {
  SendLimiter l({}, t0);
  EXPECT_FALSE(l.limited());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(l.reserve(t0, 0s), t0);
  EXPECT_EQ(l.backlog(t0, 1'000'000), 0ns);
}

TEST(SendLimiter, RatePerWindowWithTheWindowAsBurst) {
  conf::UpstreamOptions o;
  o.rate_limit = 100;
  o.rate_limit_window = 3600s;  // one per 36 s, 100 back to back
  SendLimiter l(o, t0);
  EXPECT_NEAR(l.rate(), 100.0 / 3600, 1e-12);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(l.reserve(t0, 0s), t0) << i;
  EXPECT_FALSE(l.reserve(t0, 35s).has_value());
  EXPECT_EQ(l.reserve(t0, 36s), t0 + 36s);
}

TEST(SendLimiter, BurstLimitAndMaxSendRateTogether) {
  conf::UpstreamOptions o;
  o.rate_limit = 36000;  // 10 per second by the window...
  o.rate_limit_window = 3600s;
  o.max_send_rate = 2.0;  // ...but at most 2 per second
  o.burst_limit = 3;
  SendLimiter l(o, t0);
  EXPECT_DOUBLE_EQ(l.rate(), 2.0);
  auto s = l.snapshot(t0);
  EXPECT_DOUBLE_EQ(s.burst, 3.0);
  EXPECT_DOUBLE_EQ(s.tokens, 3.0);
  EXPECT_EQ(l.reserve(t0, 10s), t0);
  EXPECT_EQ(l.reserve(t0, 10s), t0);
  EXPECT_EQ(l.reserve(t0, 10s), t0);
  EXPECT_EQ(l.reserve(t0, 10s), t0 + 500ms);
  EXPECT_EQ(l.reserve(t0, 10s), t0 + 1000ms);
}

TEST(SendLimiter, MaxSendRateAloneBurstsOneSecondsWorth) {
  conf::UpstreamOptions o;
  o.max_send_rate = 14;  // SES
  SendLimiter l(o, t0);
  EXPECT_DOUBLE_EQ(l.snapshot(t0).burst, 14.0);
}

TEST(SendLimiter, RetryAfterPausesAndIsCapped) {
  conf::UpstreamOptions o;
  SendLimiter l(o, t0);
  DeliveryResult r = throttled();
  r.retry_after = w0 + 30s;
  l.on_result(r, t0, w0);
  EXPECT_TRUE(l.paused(t0));
  EXPECT_EQ(l.paused_until(), t0 + 30s);
  EXPECT_FALSE(l.reserve(t0, 29s).has_value());
  EXPECT_EQ(l.reserve(t0, 30s), t0 + 30s);
  EXPECT_EQ(l.backlog(t0, 1), 30s);
  EXPECT_NEAR(l.snapshot(t0 + 10s).paused_seconds, 20.0, 1e-9);
  EXPECT_FALSE(l.paused(t0 + 30s));

  r.retry_after = w0 + 24h;  // an X-RateLimit-Reset far away: at most an hour
  l.on_result(r, t0, w0);
  EXPECT_EQ(l.paused_until(), t0 + SendLimiter::kLongestPause);
  // A reset time in the past pauses nothing.
  SendLimiter fresh(o, t0);
  r.retry_after = w0 - 5s;
  fresh.on_result(r, t0, w0);
  EXPECT_FALSE(fresh.paused(t0));
}

TEST(SendLimiter, AdaptiveLowersOnThrottlingWithinTheFloor) {
  conf::UpstreamOptions o;
  o.rate_limit = 1000;
  o.rate_limit_window = 100s;  // 10 per second
  o.adaptive_rate_limiting = true;
  o.min_rate_limit = 500;  // 5 per second
  o.max_rate_limit = 2000;
  o.rate_adjustment_factor = 0.2;
  SendLimiter l(o, t0);
  EXPECT_DOUBLE_EQ(l.rate(), 10.0);
  l.on_result(throttled(), t0, w0);
  EXPECT_NEAR(l.rate(), 8.0, 1e-9);
  EXPECT_NEAR(l.snapshot(t0).tokens, 0.0, 1e-9);  // no burst right after "too fast"
  l.on_result(throttled(), t0, w0);
  EXPECT_NEAR(l.rate(), 6.4, 1e-9);
  for (int i = 0; i < 10; ++i) l.on_result(throttled(), t0, w0);
  EXPECT_NEAR(l.rate(), 5.0, 1e-9);  // min_rate_limit
  EXPECT_EQ(l.snapshot(t0).throttled, 12u);
}

TEST(SendLimiter, AdaptiveRaisesAfterSustainedSuccessUpToTheCeiling) {
  conf::UpstreamOptions o;
  o.rate_limit = 1000;
  o.rate_limit_window = 100s;
  o.adaptive_rate_limiting = true;
  o.max_rate_limit = 1200;  // 12 per second
  o.rate_adjustment_factor = 0.1;
  SendLimiter l(o, t0);
  l.on_result(throttled(), t0, w0);
  EXPECT_NEAR(l.rate(), 9.0, 1e-9);
  SteadyTime t = t0;
  // Ten successes within the hold time do not raise it yet.
  for (int i = 0; i < 10; ++i) l.on_result(delivered(), t += 100ms, w0);
  EXPECT_NEAR(l.rate(), 9.0, 1e-9);
  t = t0 + SendLimiter::kRaiseAfterTime;
  l.on_result(delivered(), t, w0);
  EXPECT_NEAR(l.rate(), 9.9, 1e-9);
  for (int round = 0; round < 20; ++round) {
    t += SendLimiter::kRaiseAfterTime;
    for (int i = 0; i < 10; ++i) l.on_result(delivered(), t, w0);
  }
  EXPECT_NEAR(l.rate(), 12.0, 1e-9);  // max_rate_limit
}

TEST(SendLimiter, AdaptiveWithoutMaxStopsAtTheConfiguredRate) {
  conf::UpstreamOptions o;
  o.max_send_rate = 4;
  o.adaptive_rate_limiting = true;
  o.rate_adjustment_factor = 0.5;
  SendLimiter l(o, t0);
  l.on_result(throttled(), t0, w0);
  EXPECT_NEAR(l.rate(), 2.0, 1e-9);
  SteadyTime t = t0;
  for (int round = 0; round < 10; ++round) {
    t += SendLimiter::kRaiseAfterTime;
    for (int i = 0; i < 10; ++i) l.on_result(delivered(), t, w0);
  }
  EXPECT_NEAR(l.rate(), 4.0, 1e-9);
}

TEST(SendLimiter, AdaptiveOnAnUnlimitedUpstreamStartsFromTheObservedRate) {
  conf::UpstreamOptions o;
  o.adaptive_rate_limiting = true;
  o.rate_adjustment_factor = 0.5;
  SendLimiter l(o, t0);
  EXPECT_FALSE(l.limited());
  SteadyTime t = t0;
  for (int i = 0; i < 600; ++i) l.on_result(delivered(), t += 100ms, w0);  // 10 per second for a minute
  l.on_result(throttled(), t, w0);
  EXPECT_TRUE(l.limited());
  EXPECT_NEAR(l.rate(), 5.0, 0.5);
}

TEST(SendLimiter, WithoutAdaptiveThrottlingOnlyCounts) {
  conf::UpstreamOptions o;
  o.max_send_rate = 4;
  SendLimiter l(o, t0);
  l.on_result(throttled(), t0, w0);
  EXPECT_DOUBLE_EQ(l.rate(), 4.0);
  EXPECT_EQ(l.snapshot(t0).throttled, 1u);
}

TEST(SendLimiter, BacklogAgainstTheTimeout) {
  conf::UpstreamOptions o;
  o.max_send_rate = 1;
  o.burst_limit = 1;
  o.queue_on_limit = false;
  o.timeout = 30s;
  SendLimiter l(o, t0);
  EXPECT_FALSE(l.queue_on_limit());
  EXPECT_EQ(l.timeout(), 30s);
  EXPECT_EQ(l.backlog(t0, 31), 30s);
  EXPECT_EQ(l.backlog(t0, 32), 31s);
}

}  // namespace
}  // namespace smarthost::policy
