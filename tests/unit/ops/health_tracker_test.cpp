// Health-check verdicts: failure_threshold consecutive failures take an upstream out, one success brings it back.
#include "ops/health_tracker.h"

#include <gtest/gtest.h>

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;
const auto now = std::chrono::system_clock::time_point{} + 1000h;

TEST(HealthTracker, ThresholdFailuresTakeItOutAndOneSuccessBringsItBack) {
  HealthTracker t(3);
  t.set_upstreams({"a", "b"});
  EXPECT_FALSE(t.record(0, false, "timeout", 1s, now));
  EXPECT_FALSE(t.record(0, false, "timeout", 1s, now));
  auto out = t.record(0, false, "535 5.7.8 bad credentials", 1s, now);
  ASSERT_TRUE(out);
  EXPECT_FALSE(*out);
  EXPECT_FALSE(t.record(0, false, "still failing", 1s, now));  // no change: already out
  auto snap = t.snapshot();
  EXPECT_FALSE(snap[0].healthy);
  EXPECT_EQ(snap[0].consecutive_failures, 4u);
  EXPECT_EQ(snap[0].last_detail, "still failing");
  EXPECT_TRUE(snap[1].healthy);
  EXPECT_FALSE(snap[1].checked);
  auto back = t.record(0, true, "ok", 0.2s, now);
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back);
  EXPECT_EQ(t.snapshot()[0].consecutive_failures, 0u);
  EXPECT_EQ(t.snapshot()[0].probes_failed, 4u);
  EXPECT_EQ(t.snapshot()[0].probes_ok, 1u);
}

TEST(HealthTracker, ASuccessInBetweenResetsTheCount) {
  HealthTracker t(2);
  t.set_upstreams({"a"});
  EXPECT_FALSE(t.record(0, false, "x", 1s, now));
  EXPECT_FALSE(t.record(0, true, "ok", 1s, now));
  EXPECT_FALSE(t.record(0, false, "x", 1s, now));
  EXPECT_TRUE(t.snapshot()[0].healthy);
}

TEST(HealthTracker, RecordsSurviveANewUpstreamListByName) {
  HealthTracker t(1);
  t.set_upstreams({"a", "b"});
  t.record(1, false, "down", 1s, now);
  t.set_upstreams({"b", "c"});
  auto snap = t.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].name, "b");
  EXPECT_FALSE(snap[0].healthy);
  EXPECT_TRUE(snap[1].healthy);
  EXPECT_FALSE(t.record(5, false, "no such index", 1s, now));
}

}  // namespace
}  // namespace smarthost::ops
