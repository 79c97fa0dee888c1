// TokenBucket: burst, steady rate, reservations in order, backlog, rate changes; time is passed in, never slept.
#include "policy/token_bucket.h"

#include <gtest/gtest.h>

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0 = SteadyTime{} + 1000h;

TEST(TokenBucket, UnlimitedAlwaysTakes) {
  TokenBucket b;
  EXPECT_FALSE(b.limited());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(b.try_take(t0));
  EXPECT_EQ(b.reserve(t0), t0);
  EXPECT_EQ(b.backlog(t0, 1'000'000), 0ns);
}

TEST(TokenBucket, BurstThenSteadyRate) {
  TokenBucket b(2.0, 3, t0);  // 2 per second, 3 back to back
  EXPECT_DOUBLE_EQ(b.tokens(t0), 3.0);
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_NEAR(b.tokens(t0), 0.0, 1e-9);
  EXPECT_EQ(b.next_free(t0), t0 + 500ms);
  EXPECT_FALSE(b.try_take(t0 + 499ms));
  EXPECT_TRUE(b.try_take(t0 + 500ms));
  EXPECT_FALSE(b.try_take(t0 + 500ms));
  // After a long idle time the bucket is full again, not fuller.
  EXPECT_DOUBLE_EQ(b.tokens(t0 + 1h), 3.0);
}

TEST(TokenBucket, TokensRefillLinearly) {
  TokenBucket b(1.0, 10, t0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.try_take(t0));
  EXPECT_NEAR(b.tokens(t0 + 2500ms), 2.5, 1e-6);
  EXPECT_NEAR(b.tokens(t0 + 10s), 10.0, 1e-6);
}

TEST(TokenBucket, ReservationsAreDueInOrderAtTheRate) {
  TokenBucket b(10.0, 2, t0);  // one per 100 ms, 2 back to back
  std::vector<SteadyTime> due;
  for (int i = 0; i < 5; ++i) due.push_back(b.reserve(t0));
  EXPECT_EQ(due[0], t0);
  EXPECT_EQ(due[1], t0);
  EXPECT_EQ(due[2], t0 + 100ms);
  EXPECT_EQ(due[3], t0 + 200ms);
  EXPECT_EQ(due[4], t0 + 300ms);
  // A later caller never jumps the queue.
  EXPECT_EQ(b.reserve(t0 + 50ms), t0 + 400ms);
}

TEST(TokenBucket, BacklogCountsReservationsAlreadyMade) {
  TokenBucket b(1.0, 1, t0);
  EXPECT_EQ(b.backlog(t0, 1), 0ns);
  EXPECT_EQ(b.backlog(t0, 3), 2s);
  b.reserve(t0);
  b.reserve(t0);  // due at t0 + 1s
  EXPECT_EQ(b.backlog(t0, 1), 2s);
  EXPECT_EQ(b.backlog(t0, 0), 0ns);
}

TEST(TokenBucket, RateChangeKeepsTheDebt) {
  TokenBucket b(1.0, 1, t0);
  b.reserve(t0);
  b.reserve(t0);  // one token owed beyond now: the next is due at t0 + 2s
  EXPECT_EQ(b.next_free(t0), t0 + 2s);
  b.set_rate(0.5, t0);  // half the speed: what is owed takes twice as long
  EXPECT_EQ(b.next_free(t0), t0 + 4s);
  EXPECT_DOUBLE_EQ(b.rate(), 0.5);
}

TEST(TokenBucket, EmptyTakesEveryToken) {
  TokenBucket b(4.0, 8, t0);
  b.empty(t0);
  EXPECT_NEAR(b.tokens(t0), 0.0, 1e-9);
  EXPECT_FALSE(b.try_take(t0));
  EXPECT_TRUE(b.try_take(t0 + 250ms));
}

TEST(TokenBucket, VerySlowAndVeryFastRatesStayFinite) {
  TokenBucket slow(1.0 / (30 * 24 * 3600.0), 1, t0);
  EXPECT_TRUE(slow.try_take(t0));
  EXPECT_GT(slow.next_free(t0), t0 + 24h * 29);
  TokenBucket fast(1e9, 1, t0);
  EXPECT_TRUE(fast.try_take(t0));
  EXPECT_TRUE(fast.try_take(t0 + 1ns));
}

}  // namespace
}  // namespace smarthost::policy
