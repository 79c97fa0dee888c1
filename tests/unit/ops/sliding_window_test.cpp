// The sliding delivery window: error rate, p95 estimate, and slots that age out. Time is injected.
#include "ops/sliding_window.h"

#include <gtest/gtest.h>

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;
const SlidingWindow::TimePoint t0 = SlidingWindow::TimePoint{} + 1000h;

TEST(SlidingWindow, EmptyWindowSaysNothing) {
  SlidingWindow w(300s, 30);
  auto s = w.summary(t0);
  EXPECT_EQ(s.attempts, 0u);
  EXPECT_EQ(s.error_rate, 0);
  EXPECT_FALSE(s.p95_ms);
}

TEST(SlidingWindow, ErrorRateOverTheWindow) {
  SlidingWindow w(300s, 30);
  for (int i = 0; i < 8; ++i) w.record(t0 + std::chrono::seconds(i), false, 10);
  for (int i = 0; i < 2; ++i) w.record(t0 + 20s, true, 10);
  auto s = w.summary(t0 + 30s);
  EXPECT_EQ(s.attempts, 10u);
  EXPECT_EQ(s.errors, 2u);
  EXPECT_DOUBLE_EQ(s.error_rate, 0.2);
}

TEST(SlidingWindow, P95IsAnUpperEstimateWithin25Percent) {
  SlidingWindow w(300s, 30);
  for (int i = 0; i < 95; ++i) w.record(t0, false, 100);
  for (int i = 0; i < 5; ++i) w.record(t0, false, 9000);
  auto s = w.summary(t0);
  ASSERT_TRUE(s.p95_ms);
  EXPECT_GE(*s.p95_ms, 100);
  EXPECT_LE(*s.p95_ms, 125);
  w.record(t0, false, 9000);  // now more than 5% are slow
  s = w.summary(t0);
  EXPECT_GE(*s.p95_ms, 9000);
  EXPECT_LE(*s.p95_ms, 9000 * 1.25);
}

TEST(SlidingWindow, OldAttemptsAgeOut) {
  SlidingWindow w(60s, 6);
  w.record(t0, true, 5000);
  EXPECT_EQ(w.summary(t0 + 30s).attempts, 1u);
  w.record(t0 + 50s, false, 5);
  auto later = w.summary(t0 + 75s);  // the first slot left the window, the second is still in it
  EXPECT_EQ(later.attempts, 1u);
  EXPECT_EQ(later.errors, 0u);
  EXPECT_LE(*later.p95_ms, 6.25);
  EXPECT_EQ(w.summary(t0 + 200s).attempts, 0u);
}

TEST(SlidingWindow, BucketBoundsCoverTheirValues) {
  for (double ms : {0.5, 1.0, 1.3, 7.0, 250.0, 60000.0}) {
    SlidingWindow w(10s, 1);
    w.record(t0, false, ms);
    auto p95 = w.summary(t0).p95_ms;
    ASSERT_TRUE(p95);
    EXPECT_GE(*p95, ms);
    EXPECT_LE(*p95, std::max(1.0, ms * 1.25));
  }
}

}  // namespace
}  // namespace smarthost::ops
