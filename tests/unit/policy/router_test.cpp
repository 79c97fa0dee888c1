// Router: failover order, what moves on and what does not, per-recipient merging, max_retries/retry_delay, the
// circuit breaker in the loop, rate-limit waits in order, Retry-After pauses, saturation, and the balancing
// strategies end to end (the 10,000-message weighted 60/40 split). Fake clock and fake upstreams only.
#include "policy/router.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "tests/unit/policy/policy_fakes.h"

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;
using test::FakeTransport;
using test::message;
using test::run;
using upstream::DeliveryResult;
using upstream::Outcome;

struct Fixture {
  FakeClock clock;
  std::vector<FakeTransport*> fakes;
  std::unique_ptr<Router> router;

  void build(RouterSettings settings, std::vector<FakeTransport::Script> scripts,
             std::vector<UpstreamSettings> per = {}) {
    std::vector<std::unique_ptr<upstream::Transport>> transports;
    for (size_t i = 0; i < scripts.size(); ++i) {
      auto t = std::make_unique<FakeTransport>("up" + std::to_string(i), scripts[i], &clock);
      fakes.push_back(t.get());
      transports.push_back(std::move(t));
    }
    router = std::make_unique<Router>(settings, std::move(transports), std::move(per), clock);
  }
  DeliveryResult send(std::vector<std::string> rcpts = {"a@example.net"}, std::string id = "Q1") {
    return run(router->deliver(message(std::move(id), std::move(rcpts))));
  }
};

// One recipient; built outside coroutines (GCC 12 mishandles braced string lists inside them).
upstream::OutboundMessage one(std::string id) { return message(std::move(id), {"a@example.net"}); }

RouterSettings failover(uint32_t max_retries = 3, std::chrono::seconds retry_delay = 5s, uint32_t threshold = 5,
                        std::chrono::seconds recovery = 300s) {
  RouterSettings s;
  s.routing = conf::Routing::failover;
  s.failover.max_retries = max_retries;
  s.failover.retry_delay = retry_delay;
  s.failover.circuit_breaker.failure_threshold = threshold;
  s.failover.circuit_breaker.recovery_timeout = recovery;
  return s;
}

TEST(Router, SingleUpstreamDelivers) {
  Fixture f;
  f.build({}, {FakeTransport::always(Outcome::delivered)});
  auto r = f.send({"a@example.net", "b@example.net"});
  EXPECT_EQ(r.outcome, Outcome::delivered);
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::delivered);
  EXPECT_EQ(f.router->name(), "up0");
  EXPECT_EQ(f.fakes[0]->calls(), 1);
}

TEST(Router, SingleUpstreamFailureIsTemporaryWithOneAttempt) {
  Fixture f;
  f.build({}, {FakeTransport::always(Outcome::temporary)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(f.clock.slept(), 0ns);
}

TEST(Router, TemporaryFailureMovesToTheFallback) {
  Fixture f;
  f.build(failover(), {FakeTransport::always(Outcome::temporary), FakeTransport::always(Outcome::delivered)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::delivered);
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(f.fakes[1]->calls(), 1);
  EXPECT_EQ(f.router->name(), "router");
}

TEST(Router, UpstreamRefusalMovesOn) {
  Fixture f;
  f.build(failover(), {FakeTransport::always(Outcome::upstream_refused, "535 5.7.8 bad credentials"),
                       FakeTransport::always(Outcome::delivered)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::delivered);
  EXPECT_EQ(f.fakes[1]->calls(), 1);
}

TEST(Router, PermanentRefusalOfTheMessageDoesNotMoveOn) {
  Fixture f;
  f.build(failover(), {FakeTransport::always(Outcome::permanent, "550 5.1.1 no such user"),
                       FakeTransport::always(Outcome::delivered)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[0].reply, "550 5.1.1 no such user");
  EXPECT_EQ(f.fakes[1]->calls(), 0);
}

TEST(Router, OnlyTheDeferredRecipientsGoToTheNextUpstream) {
  Fixture f;
  f.build(failover(), {[](const upstream::OutboundMessage& m, int) {
                         DeliveryResult r;
                         r.outcome = Outcome::temporary;
                         r.recipients = {{m.envelope.recipients[0].address, Outcome::delivered, "250 ok"},
                                         {m.envelope.recipients[1].address, Outcome::permanent, "550 5.1.1 unknown"},
                                         {m.envelope.recipients[2].address, Outcome::temporary, "451 4.2.0 busy"}};
                         return r;
                       },
                       FakeTransport::always(Outcome::delivered, "250 2.0.0 fallback")});
  auto r = f.send({"a@x.example", "b@x.example", "c@x.example"});
  auto seen = f.fakes[1]->seen();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_EQ(seen[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(seen[0].envelope.recipients[0].address, "c@x.example");
  ASSERT_EQ(r.recipients.size(), 3u);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[1].outcome, Outcome::permanent);
  EXPECT_EQ(r.recipients[2].outcome, Outcome::delivered);
  EXPECT_EQ(r.recipients[2].reply, "250 2.0.0 fallback");
  EXPECT_EQ(r.outcome, Outcome::delivered);
}

TEST(Router, MaxRetriesAndRetryDelayAcrossUpstreams) {
  Fixture f;
  f.build(failover(3, 5s), {FakeTransport::always(Outcome::temporary), FakeTransport::always(Outcome::temporary)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  // primary, fallback, (retry_delay), primary, fallback: 1 + max_retries attempts.
  EXPECT_EQ(f.fakes[0]->calls(), 2);
  EXPECT_EQ(f.fakes[1]->calls(), 2);
  EXPECT_EQ(f.clock.slept(), 5s);
}

TEST(Router, NoRetriesMeansOneAttempt) {
  Fixture f;
  f.build(failover(0, 5s), {FakeTransport::always(Outcome::temporary), FakeTransport::always(Outcome::delivered)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(f.fakes[1]->calls(), 0);
}

TEST(Router, AnUpstreamThatRefusedIsNotRetriedInTheCycle) {
  Fixture f;
  f.build(failover(5, 5s), {FakeTransport::always(Outcome::upstream_refused), FakeTransport::always(Outcome::temporary)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::temporary);  // never upstream_refused towards the queue
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(f.fakes[1]->calls(), 5);
}

TEST(Router, CircuitOpensHalfOpensAndCloses) {
  Fixture f;
  bool primary_up = false;
  f.build(failover(1, 0s, 2, 60s),
          {[&](const upstream::OutboundMessage& m, int) {
             return test::result_for(m, primary_up ? Outcome::delivered : Outcome::temporary,
                                     primary_up ? "250 primary" : "421 4.4.2 down");
           },
           FakeTransport::always(Outcome::delivered, "250 fallback")});
  EXPECT_EQ(f.send().outcome, Outcome::delivered);
  EXPECT_EQ(f.send().outcome, Outcome::delivered);
  EXPECT_EQ(f.fakes[0]->calls(), 2);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::open);
  // Open: the primary is skipped.
  auto r = f.send();
  EXPECT_EQ(r.recipients[0].reply, "250 fallback");
  EXPECT_EQ(f.fakes[0]->calls(), 2);
  // After recovery_timeout one probe goes to the primary; it fails, so the circuit opens again.
  f.clock.advance(60s);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::half_open);
  f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 3);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::open);
  f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 3);
  // Next probe succeeds: closed, and the primary takes the traffic again.
  primary_up = true;
  f.clock.advance(60s);
  r = f.send();
  EXPECT_EQ(r.recipients[0].reply, "250 primary");
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::closed);
  r = f.send();
  EXPECT_EQ(r.recipients[0].reply, "250 primary");
  EXPECT_EQ(f.fakes[0]->calls(), 5);
}

TEST(Router, EverythingDownKeepsTheMessageQueuedUntilTheProbe) {
  Fixture f;
  RouterSettings s = failover(0, 0s, 1, 300s);
  s.routing = conf::Routing::single;
  f.build(s, {FakeTransport::always(Outcome::temporary, "421 4.4.2 down")});
  f.send();
  auto r = f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_NE(r.reply.find("No upstream available"), std::string::npos);
  EXPECT_EQ(r.recipients[0].outcome, Outcome::temporary);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, f.clock.wall_now() + 300s);
}

// The administrator flushed the queue: the open circuit closes and the next message is tried at once.
TEST(Router, RetryNowClosesEveryOpenCircuit) {
  Fixture f;
  RouterSettings s = failover(0, 0s, 1, 300s);
  f.build(s, {FakeTransport::always(Outcome::temporary, "421 4.4.2 down"),
              FakeTransport::always(Outcome::temporary, "421 4.4.2 down")});
  f.send();
  f.send();  // the first upstream's circuit is open: this one goes to the second
  ASSERT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::open);
  ASSERT_EQ(f.router->snapshot()[1].breaker.state, BreakerState::open);
  f.router->retry_now();
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::closed);
  EXPECT_EQ(f.router->snapshot()[1].breaker.state, BreakerState::closed);
  auto r = f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 2);  // tried again at once, not "No upstream available"
  EXPECT_EQ(r.reply.find("No upstream available"), std::string::npos) << r.reply;
}

TEST(Router, ThrottlingIsNotABreakerFailure) {
  Fixture f;
  RouterSettings s = failover(0, 0s, 1, 300s);
  s.routing = conf::Routing::single;
  f.build(s, {[](const upstream::OutboundMessage& m, int) {
            auto r = test::result_for(m, Outcome::temporary, "454 4.7.0 Throttling failure");
            r.throttled = true;
            return r;
          }});
  f.send();
  f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 2);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::closed);
  EXPECT_EQ(f.router->snapshot()[0].limiter.throttled, 2u);
}

TEST(Router, RateLimitSpacesDeliveriesInOrder) {
  Fixture f;
  UpstreamSettings u;
  u.options.max_send_rate = 2;
  u.options.burst_limit = 1;
  f.build({}, {FakeTransport::always(Outcome::delivered)}, {u});
  boost::asio::io_context io;
  std::vector<Outcome> outcomes;
  for (int i = 0; i < 5; ++i) {
    boost::asio::co_spawn(io, [&, i]() -> boost::asio::awaitable<void> {
      auto r = co_await f.router->deliver(one("Q" + std::to_string(i)));
      outcomes.push_back(r.outcome);
    }, boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(outcomes, std::vector<Outcome>(5, Outcome::delivered));
  auto times = f.fakes[0]->times();
  auto seen = f.fakes[0]->seen();
  ASSERT_EQ(times.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].queue_id, "Q" + std::to_string(i));
    if (i > 0) {
      EXPECT_EQ(times[i] - times[i - 1], 500ms);
    }
  }
}

TEST(Router, RetryAfterPausesTheUpstream) {
  Fixture f;
  int calls = 0;
  f.build({}, {[&](const upstream::OutboundMessage& m, int) {
            if (calls++ > 0) return test::result_for(m, Outcome::delivered, "250 ok");
            auto r = test::result_for(m, Outcome::temporary, "HTTP 429");
            r.throttled = true;
            r.retry_after = f.clock.wall_now() + 20s;
            return r;
          }});
  auto first = f.send();
  EXPECT_EQ(first.outcome, Outcome::temporary);
  ASSERT_TRUE(first.retry_after.has_value());
  EXPECT_EQ(*first.retry_after, f.clock.wall_now() + 20s);
  auto start = f.clock.now();
  EXPECT_EQ(f.send().outcome, Outcome::delivered);  // waited out the pause (within the longest wait)
  auto times = f.fakes[0]->times();
  EXPECT_EQ(times[1] - start, 20s);
}

TEST(Router, APauseLongerThanTheWaitMovesToTheFallback) {
  Fixture f;
  f.build(failover(), {[&](const upstream::OutboundMessage& m, int) {
                         auto r = test::result_for(m, Outcome::temporary, "HTTP 429");
                         r.throttled = true;
                         r.retry_after = f.clock.wall_now() + 10min;
                         return r;
                       },
                       FakeTransport::always(Outcome::delivered)});
  f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(f.fakes[1]->calls(), 1);
  f.send();  // the primary is paused for 10 minutes: straight to the fallback
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  EXPECT_EQ(f.fakes[1]->calls(), 2);
  EXPECT_EQ(f.clock.slept(), 0ns);
}

TEST(Router, OverTheRateLimitForTooLongStaysQueued) {
  Fixture f;
  UpstreamSettings u;
  u.options.rate_limit = 1;
  u.options.rate_limit_window = 3600s;
  RouterSettings s;
  s.longest_rate_wait = 60s;
  f.build(s, {FakeTransport::always(Outcome::delivered)}, {u});
  EXPECT_EQ(f.send().outcome, Outcome::delivered);
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(f.fakes[0]->calls(), 1);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, f.clock.wall_now() + 3600s);
}

TEST(Router, SaturationOnlyWithoutQueueOnLimit) {
  for (bool queue_on_limit : {false, true}) {
    Fixture f;
    UpstreamSettings u;
    u.options.max_send_rate = 1;
    u.options.burst_limit = 1;
    u.options.queue_on_limit = queue_on_limit;
    u.options.timeout = 30s;
    f.build({}, {FakeTransport::always(Outcome::delivered)}, {u});
    EXPECT_FALSE(f.router->saturated(0));
    EXPECT_FALSE(f.router->saturated(30));  // a new message after 30 goes out 30 s from now: within the timeout
    EXPECT_EQ(f.router->saturated(31), !queue_on_limit);
  }
}

TEST(Router, SaturationCountsDeliveriesWaitingForTheirSlot) {
  Fixture f;
  UpstreamSettings u;
  u.options.max_send_rate = 1;
  u.options.burst_limit = 1;
  u.options.queue_on_limit = false;
  u.options.timeout = 1s;
  f.build({}, {FakeTransport::always(Outcome::delivered)}, {u});
  f.send();  // took the one token
  EXPECT_FALSE(f.router->saturated(0));  // the next goes in 1 s: within the timeout
  f.send();  // waited for the slot 1 s later (the fake sleep moved the clock there)
  EXPECT_FALSE(f.router->saturated(0));
  EXPECT_TRUE(f.router->saturated(1));  // one queued ahead: the new one would go 2 s from now
}

TEST(Router, BalancedSaturationNeedsEveryMemberOverTheLimit) {
  Fixture f;
  UpstreamSettings limited;
  limited.options.max_send_rate = 1;
  limited.options.burst_limit = 1;
  limited.options.queue_on_limit = false;
  limited.options.timeout = 10s;
  RouterSettings s;
  s.routing = conf::Routing::round_robin;
  f.build(s, {FakeTransport::always(Outcome::delivered), FakeTransport::always(Outcome::delivered)}, {limited, limited});
  EXPECT_FALSE(f.router->saturated(20));  // 2 per second together: 21 in 9.5 s
  EXPECT_TRUE(f.router->saturated(22));
  Fixture g;
  g.build(s, {FakeTransport::always(Outcome::delivered), FakeTransport::always(Outcome::delivered)}, {limited, {}});
  EXPECT_FALSE(g.router->saturated(1000));  // the second member has no limit
}

TEST(Router, WeightedSixtyFortyOverTenThousandMessages) {
  Fixture f;
  RouterSettings s;
  s.routing = conf::Routing::weighted;
  UpstreamSettings a, b;
  a.weight = 60;
  b.weight = 40;
  f.build(s, {FakeTransport::always(Outcome::delivered), FakeTransport::always(Outcome::delivered)}, {a, b});
  boost::asio::io_context io;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 10'000; ++i) co_await f.router->deliver(one("Q"));
  }, boost::asio::detached);
  io.run();
  EXPECT_NEAR(f.fakes[0]->calls() / 10'000.0, 0.60, 0.02);
  EXPECT_NEAR(f.fakes[1]->calls() / 10'000.0, 0.40, 0.02);
  EXPECT_EQ(f.fakes[0]->calls() + f.fakes[1]->calls(), 10'000);
}

TEST(Router, RoundRobinSpreadsAndSkipsAnUnhealthyMember) {
  Fixture f;
  RouterSettings s;
  s.routing = conf::Routing::round_robin;
  f.build(s, {FakeTransport::always(Outcome::delivered), FakeTransport::always(Outcome::delivered),
              FakeTransport::always(Outcome::delivered)});
  for (int i = 0; i < 30; ++i) f.send();
  EXPECT_EQ(f.fakes[0]->calls(), 10);
  EXPECT_EQ(f.fakes[1]->calls(), 10);
  EXPECT_EQ(f.fakes[2]->calls(), 10);
  f.router->set_healthy(1, false);
  for (int i = 0; i < 30; ++i) f.send();
  EXPECT_EQ(f.fakes[1]->calls(), 10);
  EXPECT_EQ(f.fakes[0]->calls() + f.fakes[2]->calls(), 50);
  EXPECT_FALSE(f.router->snapshot()[1].healthy);
}

TEST(Router, BalancedDeferralMovesToAnotherMember) {
  Fixture f;
  RouterSettings s;
  s.routing = conf::Routing::round_robin;
  s.failover.max_retries = 1;
  f.build(s, {FakeTransport::always(Outcome::temporary), FakeTransport::always(Outcome::delivered)});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.send().outcome, Outcome::delivered);
  EXPECT_EQ(f.fakes[1]->calls(), 4);
}

TEST(Router, ResponseTimePrefersTheFasterUpstream) {
  FakeClock clock;
  std::vector<std::unique_ptr<upstream::Transport>> transports;
  auto slow = std::make_unique<FakeTransport>("slow", FakeTransport::always(Outcome::delivered), &clock, 800ms);
  auto fast = std::make_unique<FakeTransport>("fast", FakeTransport::always(Outcome::delivered), &clock, 50ms);
  auto* slow_p = slow.get();
  auto* fast_p = fast.get();
  transports.push_back(std::move(slow));
  transports.push_back(std::move(fast));
  RouterSettings s;
  s.routing = conf::Routing::response_time;
  s.seed = 1;
  Router router(s, std::move(transports), {}, clock);
  boost::asio::io_context io;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    for (int i = 0; i < 1000; ++i) co_await router.deliver(one("Q"));
  }, boost::asio::detached);
  io.run();
  EXPECT_GT(fast_p->calls(), 950);
  EXPECT_GT(slow_p->calls(), 5);  // exploration keeps measuring the slow one
  auto snap = router.snapshot();
  ASSERT_TRUE(snap[1].latency_ms.has_value());
  EXPECT_NEAR(*snap[1].latency_ms, 50.0, 1.0);
}

TEST(Router, AdaptiveRateFollowsThrottling) {
  Fixture f;
  UpstreamSettings u;
  u.options.max_send_rate = 10;
  u.options.adaptive_rate_limiting = true;
  u.options.rate_adjustment_factor = 0.5;
  bool throttle = true;
  f.build({}, {[&](const upstream::OutboundMessage& m, int) {
            auto r = test::result_for(m, throttle ? Outcome::temporary : Outcome::delivered, "x");
            r.throttled = throttle;
            return r;
          }},
          {u});
  f.send();
  EXPECT_DOUBLE_EQ(f.router->snapshot()[0].limiter.rate_per_second, 5.0);
  throttle = false;
  for (int i = 0; i < 40; ++i) {
    f.clock.advance(1s);
    f.send();
  }
  EXPECT_DOUBLE_EQ(f.router->snapshot()[0].limiter.rate_per_second, 10.0);
}

TEST(Router, NoUpstreamsAtAll) {
  Fixture f;
  f.build({}, {});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(r.recipients.size(), 1u);
}

TEST(Router, ATransportThatThrowsIsATemporaryFailure) {
  Fixture f;
  f.build(failover(), {[](const upstream::OutboundMessage&, int) -> DeliveryResult { throw std::runtime_error("boom"); },
                       FakeTransport::always(Outcome::delivered)});
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::delivered);
  EXPECT_EQ(f.router->snapshot()[0].in_flight, 0u);
  EXPECT_EQ(f.router->snapshot()[0].failed, 1u);
}

std::vector<upstream::OutboundMessage> three_messages() {
  return {message("B1", {"a@example.net"}), message("B2", {"b@example.net"}), message("B3", {"c@example.net"})};
}

TEST(Router, ABatchGoesToOneUpstreamInOneCall) {
  Fixture f;
  f.build(failover(), {FakeTransport::always(Outcome::delivered), FakeTransport::always(Outcome::delivered)});
  auto batch = three_messages();
  auto results = run(f.router->deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::delivered);
  EXPECT_EQ(f.fakes[0]->batches(), 1);
  EXPECT_EQ(f.fakes[0]->calls(), 3);
  EXPECT_EQ(f.fakes[1]->calls(), 0);
  EXPECT_EQ(f.router->snapshot()[0].in_flight, 0u);
  EXPECT_EQ(f.router->snapshot()[0].delivered, 3u);
}

TEST(Router, WhatABatchLeavesOpenFailsOverMessageByMessage) {
  Fixture f;
  f.build(failover(), {[](const upstream::OutboundMessage& m, int) {
                         return test::result_for(m, m.queue_id == "B2" ? Outcome::temporary : Outcome::delivered,
                                                 m.queue_id == "B2" ? "451 4.3.0 later" : "250 primary");
                       },
                       FakeTransport::always(Outcome::delivered, "250 fallback")});
  auto batch = three_messages();
  auto results = run(f.router->deliver_batch(batch));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].recipients[0].reply, "250 primary");
  EXPECT_EQ(results[1].outcome, Outcome::delivered);
  EXPECT_EQ(results[1].recipients[0].reply, "250 fallback");
  EXPECT_EQ(results[2].recipients[0].reply, "250 primary");
  auto seen = f.fakes[1]->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].queue_id, "B2");
}

TEST(Router, ARateLimitedUpstreamGetsNoBatch) {
  Fixture f;
  UpstreamSettings u;
  u.options.max_send_rate = 10;
  f.build({}, {FakeTransport::always(Outcome::delivered)}, {u});
  auto batch = three_messages();
  auto results = run(f.router->deliver_batch(batch));
  EXPECT_EQ(results.size(), 3u);
  EXPECT_EQ(f.fakes[0]->batches(), 0);
  EXPECT_EQ(f.fakes[0]->calls(), 3);
}

TEST(Router, FromConfigTakesRoutingWeightsAndOptions) {
  conf::Config c;
  c.routing = conf::Routing::weighted;
  c.failover_policy.circuit_breaker.failure_threshold = 7;
  c.upstreams.resize(2);
  c.upstreams[0].weight = 3;
  c.upstreams[1].options.max_send_rate = 4;
  FakeClock clock;
  std::vector<std::unique_ptr<upstream::Transport>> t;
  t.push_back(std::make_unique<FakeTransport>("a", FakeTransport::always(Outcome::delivered)));
  t.push_back(std::make_unique<FakeTransport>("b", FakeTransport::always(Outcome::delivered)));
  auto router = Router::from_config(c, std::move(t), clock);
  auto snap = router->snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_FALSE(snap[0].limiter.limited);
  EXPECT_DOUBLE_EQ(snap[1].limiter.rate_per_second, 4.0);
  EXPECT_EQ(snap[0].name, "a");
}

}  // namespace
}  // namespace smarthost::policy

namespace smarthost::policy {
namespace {

// The one test on the real clock: a rate-limited delivery waits on a steady_timer and completes (50 ms apart).
TEST(RouterRealClock, WaitsForTheSlotOnATimer) {
  UpstreamSettings u;
  u.options.max_send_rate = 20;
  u.options.burst_limit = 1;
  std::vector<std::unique_ptr<upstream::Transport>> t;
  auto fake = std::make_unique<FakeTransport>("up", FakeTransport::always(Outcome::delivered));
  auto* raw = fake.get();
  t.push_back(std::move(fake));
  Router router(RouterSettings{}, std::move(t), {u}, system_clock());
  boost::asio::io_context io;
  int done = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    boost::asio::co_spawn(io, [&, i]() -> boost::asio::awaitable<void> {
      co_await router.deliver(one("Q" + std::to_string(i)));
      ++done;
    }, boost::asio::detached);
  }
  io.run_for(std::chrono::seconds(5));
  EXPECT_EQ(done, 3);
  EXPECT_EQ(raw->calls(), 3);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
}

}  // namespace
}  // namespace smarthost::policy
