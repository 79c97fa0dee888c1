// CircuitBreaker: closed -> open after the threshold, open for recovery_timeout, half-open with exactly one probe,
// then closed or open again. Fake time only.
#include "policy/circuit_breaker.h"

#include <gtest/gtest.h>

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(CircuitBreaker, OpensAfterConsecutiveFailures) {
  CircuitBreaker b("up", 3, 300s);
  EXPECT_EQ(b.state(t0), BreakerState::closed);
  b.record_failure(t0);
  b.record_failure(t0);
  EXPECT_TRUE(b.allow(t0));
  b.record_failure(t0);
  EXPECT_EQ(b.state(t0), BreakerState::open);
  EXPECT_FALSE(b.allow(t0));
  EXPECT_FALSE(b.would_allow(t0 + 299s));
  EXPECT_EQ(b.snapshot(t0 + 100s).reopens_in_seconds, 200.0);
  EXPECT_EQ(b.snapshot(t0).opened, 1u);
}

// `smarthost queue flush`: an open circuit (and a half-open one with its probe out) closes at once and forgets
// its failures; a still-dead upstream opens it again after the threshold.
TEST(CircuitBreaker, CloseByTheAdministratorForgetsTheFailures) {
  CircuitBreaker b("up", 2, 300s);
  b.record_failure(t0);
  b.record_failure(t0);
  ASSERT_EQ(b.state(t0 + 10s), BreakerState::open);
  b.close("queue flushed");
  EXPECT_EQ(b.state(t0 + 10s), BreakerState::closed);
  EXPECT_EQ(b.snapshot(t0 + 10s).consecutive_failures, 0u);
  EXPECT_TRUE(b.allow(t0 + 10s));
  EXPECT_TRUE(b.allow(t0 + 10s));
  b.record_failure(t0 + 11s);
  EXPECT_EQ(b.state(t0 + 11s), BreakerState::closed);
  b.record_failure(t0 + 11s);
  EXPECT_EQ(b.state(t0 + 11s), BreakerState::open);
  EXPECT_EQ(b.snapshot(t0 + 11s).reopens_in_seconds, 300.0);
  EXPECT_EQ(b.snapshot(t0 + 11s).opened, 2u);

  ASSERT_TRUE(b.allow(t0 + 311s));  // half-open, the probe out
  ASSERT_FALSE(b.would_allow(t0 + 311s));
  b.close("queue flushed");
  EXPECT_TRUE(b.allow(t0 + 311s));
  EXPECT_TRUE(b.allow(t0 + 311s));
}

TEST(CircuitBreaker, SuccessResetsTheCount) {
  CircuitBreaker b("up", 3, 300s);
  b.record_failure(t0);
  b.record_failure(t0);
  b.record_success(t0);
  b.record_failure(t0);
  b.record_failure(t0);
  EXPECT_EQ(b.state(t0), BreakerState::closed);
  EXPECT_EQ(b.snapshot(t0).consecutive_failures, 2u);
}

TEST(CircuitBreaker, HalfOpenLetsOneProbeThroughAndItsSuccessCloses) {
  CircuitBreaker b("up", 1, 60s);
  b.record_failure(t0);
  ASSERT_EQ(b.state(t0), BreakerState::open);
  EXPECT_EQ(b.state(t0 + 60s), BreakerState::half_open);
  EXPECT_TRUE(b.would_allow(t0 + 60s));
  EXPECT_TRUE(b.allow(t0 + 60s));    // the probe
  EXPECT_FALSE(b.allow(t0 + 60s));   // nobody else while it runs
  EXPECT_FALSE(b.would_allow(t0 + 61s));
  b.record_success(t0 + 61s);
  EXPECT_EQ(b.state(t0 + 61s), BreakerState::closed);
  EXPECT_TRUE(b.allow(t0 + 61s));
  EXPECT_TRUE(b.allow(t0 + 61s));
}

TEST(CircuitBreaker, AFailedProbeOpensItAgainForAnotherTimeout) {
  CircuitBreaker b("up", 2, 60s);
  b.record_failure(t0);
  b.record_failure(t0);
  ASSERT_TRUE(b.allow(t0 + 60s));
  b.record_failure(t0 + 65s);
  EXPECT_EQ(b.state(t0 + 65s), BreakerState::open);
  EXPECT_FALSE(b.allow(t0 + 124s));
  EXPECT_EQ(b.state(t0 + 125s), BreakerState::half_open);
  EXPECT_TRUE(b.allow(t0 + 125s));
  EXPECT_EQ(b.snapshot(t0 + 125s).opened, 2u);
}

TEST(CircuitBreaker, ANeutralProbeGivesThePermitBack) {
  CircuitBreaker b("up", 1, 10s);
  b.record_failure(t0);
  ASSERT_TRUE(b.allow(t0 + 10s));
  b.record_neutral();  // throttled: says nothing about health
  EXPECT_EQ(b.state(t0 + 10s), BreakerState::half_open);
  EXPECT_TRUE(b.allow(t0 + 10s));
}

TEST(CircuitBreaker, StateNames) {
  EXPECT_EQ(to_string(BreakerState::closed), "closed");
  EXPECT_EQ(to_string(BreakerState::open), "open");
  EXPECT_EQ(to_string(BreakerState::half_open), "half_open");
}

}  // namespace
}  // namespace smarthost::policy
