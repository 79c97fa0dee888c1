// SharedUpstream against a real redis-server, two instances (each its own client, as two relays would have):
// together they stay within burst + rate * t + one batch each; one's throttling pauses and slows the other; a
// circuit opened by one is seen by the other; with Redis gone, acquire() says "local" at once.
#include "policy/redis/shared_upstream.h"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <mutex>

#include "policy/send_limiter.h"
#include "tests/support/redis_server.h"
#include "tests/unit/policy/redis/redis_test_loop.h"

namespace smarthost::policy::redis {
namespace {

using namespace std::chrono_literals;
using smarthost::test::RedisServer;
using test::eventually;
using test::Loop;

#define REQUIRE_REDIS() \
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed"

struct Instance {
  std::shared_ptr<RedisClient> client;
  std::shared_ptr<SharedUpstream> upstream;
};

Instance instance(Loop& loop, const RedisServer& server, conf::UpstreamOptions options, std::string key = "t:fleet:up") {
  std::string error;
  RedisClientSettings s;
  s.endpoint = *parse_redis_url(server.url(), error);
  s.timeout = 300ms;
  s.min_backoff = 20ms;
  s.max_backoff = 200ms;
  Instance i;
  i.client = RedisClient::create(loop.executor(), s);
  SharedUpstreamSettings u;
  u.name = "up";
  u.key = std::move(key);
  u.options = options;
  u.refresh = 100ms;
  i.upstream = SharedUpstream::create(loop.executor(), i.client, u);
  i.client->start();
  i.upstream->start();
  return i;
}

conf::UpstreamOptions limit(uint32_t per_minute, uint32_t burst) {
  conf::UpstreamOptions o;
  o.rate_limit = per_minute;
  o.rate_limit_window = std::chrono::seconds(60);
  o.burst_limit = burst;
  return o;
}

boost::asio::awaitable<FleetSlot> ask(std::shared_ptr<SharedUpstream> up, std::chrono::nanoseconds max_wait) {
  auto op = up->acquire(max_wait);
  FleetSlot slot = co_await std::move(op);
  co_return slot;
}

// A sender: takes slots and "sends" at each slot's time until `until`, recording the send times.
boost::asio::awaitable<void> sender(std::shared_ptr<SharedUpstream> up, std::chrono::steady_clock::time_point until,
                                    std::shared_ptr<std::mutex> mutex,
                                    std::shared_ptr<std::vector<std::chrono::steady_clock::time_point>> sent,
                                    std::shared_ptr<std::atomic<int>> local) {
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor);
  while (std::chrono::steady_clock::now() < until) {
    auto op = up->acquire(1s);
    FleetSlot slot = co_await std::move(op);
    if (slot.kind == FleetSlot::Kind::local) {
      ++*local;
      timer.expires_after(10ms);
    } else if (slot.kind == FleetSlot::Kind::refused) {
      timer.expires_at(slot.next);
    } else {
      timer.expires_at(slot.due);
    }
    co_await timer.async_wait(boost::asio::use_awaitable);
    if (slot.kind != FleetSlot::Kind::granted || slot.due > until) continue;
    std::lock_guard lock(*mutex);
    sent->push_back(std::chrono::steady_clock::now());
  }
}

TEST(SharedUpstream, BatchIsAQuarterSecondOfTheRateWithinBurst) {
  REQUIRE_REDIS();
  RedisServer server;
  Loop loop;
  EXPECT_EQ(instance(loop, server, limit(3000, 100)).upstream->batch(), 12u);  // 50/s
  EXPECT_EQ(instance(loop, server, limit(3000, 5)).upstream->batch(), 5u);
  EXPECT_EQ(instance(loop, server, limit(600, 600)).upstream->batch(), 2u);  // 10/s
  EXPECT_EQ(instance(loop, server, limit(60, 60)).upstream->batch(), 1u);
  EXPECT_EQ(instance(loop, server, limit(6'000'000, 100'000)).upstream->batch(), SharedUpstream::kMaxBatch);
  EXPECT_FALSE(instance(loop, server, conf::UpstreamOptions{}).upstream->limited());
}

TEST(SharedUpstream, TwoInstancesTogetherStayWithinTheSharedLimit) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop(3);
  const auto options = limit(3000, 5);  // 50 per second, bursts of 5
  Instance a = instance(loop, server, options), b = instance(loop, server, options);
  ASSERT_TRUE(eventually([&] { return a.upstream->shared() && b.upstream->shared(); }));

  auto mutex = std::make_shared<std::mutex>();
  auto sent_a = std::make_shared<std::vector<std::chrono::steady_clock::time_point>>();
  auto sent_b = std::make_shared<std::vector<std::chrono::steady_clock::time_point>>();
  auto local = std::make_shared<std::atomic<int>>(0);
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + 2s;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 4; ++i) {
    done.push_back(boost::asio::co_spawn(loop.executor(), sender(a.upstream, until, mutex, sent_a, local),
                                         boost::asio::use_future));
    done.push_back(boost::asio::co_spawn(loop.executor(), sender(b.upstream, until, mutex, sent_b, local),
                                         boost::asio::use_future));
  }
  for (auto& d : done) d.get();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const size_t total = sent_a->size() + sent_b->size();
  // The documented bound: burst + rate * t + one batch per instance.
  const double bound = 5 + 50 * seconds + 2.0 * static_cast<double>(a.upstream->batch());
  EXPECT_LE(static_cast<double>(total), bound) << "a=" << sent_a->size() << " b=" << sent_b->size();
  EXPECT_GE(total, 80u) << "the fleet uses its budget";
  EXPECT_GE(sent_a->size(), 20u);
  EXPECT_GE(sent_b->size(), 20u);
  EXPECT_EQ(local->load(), 0) << "Redis answered throughout";
  EXPECT_LT(a.upstream->leases() + b.upstream->leases(), total) << "slots are leased in batches";
}

TEST(SharedUpstream, OnesRetryAfterPausesTheOther) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  Instance a = instance(loop, server, limit(6000, 10)), b = instance(loop, server, limit(6000, 10));
  ASSERT_TRUE(eventually([&] { return a.upstream->shared() && b.upstream->shared(); }));

  upstream::DeliveryResult throttled;
  throttled.outcome = upstream::Outcome::temporary;
  throttled.throttled = true;
  const auto wall = std::chrono::system_clock::now();
  throttled.retry_after = wall + 3s;
  const auto now = std::chrono::steady_clock::now();
  a.upstream->on_result(throttled, now, wall);
  ASSERT_TRUE(eventually([&] { return b.upstream->view().paused_until > now + 2500ms; }, 2s))
      << "the other instance sees the pause";
  EXPECT_LT(b.upstream->view().paused_until, now + 3500ms);
  auto slot = loop.sync(ask(b.upstream, 10s));
  ASSERT_EQ(slot.kind, FleetSlot::Kind::granted);
  EXPECT_GE(slot.due, now + 2500ms) << "its next slot is after the pause";
  auto refused = loop.sync(ask(b.upstream, 1s));
  EXPECT_EQ(refused.kind, FleetSlot::Kind::refused) << "nothing within a second while paused";
}

TEST(SharedUpstream, OnesThrottlingLowersTheSharedRate) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto options = limit(600, 10);
  options.adaptive_rate_limiting = true;
  options.rate_adjustment_factor = 0.5;
  Instance a = instance(loop, server, options, "t:fleet:adaptive");
  ASSERT_TRUE(eventually([&] { return a.upstream->shared(); }));
  upstream::DeliveryResult throttled;
  throttled.outcome = upstream::Outcome::temporary;
  throttled.throttled = true;
  a.upstream->on_result(throttled, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  ASSERT_TRUE(eventually([&] { return server.cli({"HGET", "t:fleet:adaptive", "rate"}).starts_with("5"); }))
      << server.cli({"HGETALL", "t:fleet:adaptive"});
  // Successes raise it again (kRaiseAfterSuccesses answers, at most once per kRaiseAfterTime fleet-wide).
  server.cli({"HSET", "t:fleet:adaptive", "changed", "0"});
  upstream::DeliveryResult ok;
  ok.outcome = upstream::Outcome::delivered;
  for (uint32_t i = 0; i < SendLimiter::kRaiseAfterSuccesses; ++i) {
    a.upstream->on_result(ok, std::chrono::steady_clock::now(), std::chrono::system_clock::now());
  }
  EXPECT_TRUE(eventually([&] { return server.cli({"HGET", "t:fleet:adaptive", "rate"}).starts_with("7.5"); }))
      << server.cli({"HGETALL", "t:fleet:adaptive"});
}

TEST(SharedUpstream, ACircuitOpenedByOneIsSeenByTheOtherAndClosesForAll) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  Instance a = instance(loop, server, conf::UpstreamOptions{}), b = instance(loop, server, conf::UpstreamOptions{});
  ASSERT_TRUE(eventually([&] { return a.upstream->shared() && b.upstream->shared(); }));
  const auto now = std::chrono::steady_clock::now();
  a.upstream->on_circuit(BreakerState::open, now + 30s);
  ASSERT_TRUE(eventually([&] { return b.upstream->view().open_until > now + 25s; }, 2s));
  a.upstream->on_circuit(BreakerState::closed, now);
  EXPECT_TRUE(eventually([&] { return b.upstream->view().open_until < std::chrono::steady_clock::now(); }, 2s));
}

TEST(SharedUpstream, WithoutRedisItSaysLocalAtOnce) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  Instance a = instance(loop, server, limit(600, 10));
  ASSERT_TRUE(eventually([&] { return a.upstream->shared(); }));
  EXPECT_EQ(loop.sync(ask(a.upstream, 1s)).kind, FleetSlot::Kind::granted);
  server.kill();
  ASSERT_TRUE(eventually([&] { return !a.upstream->shared(); }));
  const auto started = std::chrono::steady_clock::now();
  // Slots leased already may still be handed out; after them, "local".
  FleetSlot slot;
  for (int i = 0; i < 20 && slot.kind != FleetSlot::Kind::local; ++i) slot = loop.sync(ask(a.upstream, 1s));
  EXPECT_EQ(slot.kind, FleetSlot::Kind::local);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
  ASSERT_TRUE(server.start());
  EXPECT_TRUE(eventually([&] { return a.upstream->shared(); }, 5s)) << "back to shared mode";
  EXPECT_EQ(loop.sync(ask(a.upstream, 1s)).kind, FleetSlot::Kind::granted);
}

}  // namespace
}  // namespace smarthost::policy::redis
