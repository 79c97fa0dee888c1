// Router in fleet mode, with a scripted FleetUpstream and the fake clock: the fleet's slots replace the local
// limiter while shared; "local" and fallback mode use the local limiter at the fallback fraction; the fleet's
// pauses and circuits are followed; circuit changes and answers are told to the fleet.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "policy/fleet_upstream.h"
#include "policy/router.h"
#include "tests/unit/policy/policy_fakes.h"

namespace smarthost::policy {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;
using test::FakeTransport;
using test::run;
using upstream::DeliveryResult;
using upstream::Outcome;

class FakeFleet final : public FleetUpstream {
 public:
  explicit FakeFleet(const FakeClock& clock) : clock_(clock) {}
  bool shared() const override {
    if (switch_at && clock_.now() >= *switch_at) return !shared_;
    return shared_;
  }
  boost::asio::awaitable<FleetSlot> acquire(std::chrono::nanoseconds) override {
    ++asked;
    FleetSlot slot;
    if (!answers.empty()) {
      slot = answers.front();
      answers.pop_front();
    } else {
      slot.kind = FleetSlot::Kind::granted;
      slot.due = clock_.now();
    }
    co_return slot;
  }
  void on_result(const DeliveryResult& r, SteadyTime, WallTime) override { results.push_back(r); }
  void on_circuit(BreakerState state, SteadyTime until) override { circuits.emplace_back(state, until); }
  FleetView view() const override { return view_; }

  bool shared_ = true;
  std::optional<SteadyTime> switch_at;  // from then on, shared() says the opposite of shared_
  FleetView view_;
  std::deque<FleetSlot> answers;
  int asked = 0;
  std::vector<DeliveryResult> results;
  std::vector<std::pair<BreakerState, SteadyTime>> circuits;

 private:
  const FakeClock& clock_;
};

struct Fixture {
  FakeClock clock;
  FakeTransport* fake = nullptr;
  std::shared_ptr<FakeFleet> fleet = std::make_shared<FakeFleet>(clock);
  std::unique_ptr<Router> router;

  // One upstream limited to `per_minute` (burst 1) with the fleet attached through from_config.
  void build(uint32_t per_minute, double fraction = 0.5, FakeTransport::Script script = {},
             uint32_t failure_threshold = 5) {
    conf::Config config;
    conf::Upstream u;
    u.name = "api";
    u.options.rate_limit = per_minute;
    u.options.rate_limit_window = std::chrono::seconds(60);
    u.options.burst_limit = 1;
    config.upstreams.push_back(u);
    config.routing = conf::Routing::single;
    config.caching.redis_fallback_fraction = fraction;
    config.failover_policy.circuit_breaker.failure_threshold = failure_threshold;
    config.failover_policy.circuit_breaker.recovery_timeout = std::chrono::seconds(60);
    if (!script) script = FakeTransport::always(Outcome::delivered);
    auto t = std::make_unique<FakeTransport>("api", script, &clock);
    fake = t.get();
    std::vector<std::unique_ptr<upstream::Transport>> transports;
    transports.push_back(std::move(t));
    router = Router::from_config(config, std::move(transports), clock, {fleet});
  }
  DeliveryResult send(std::string id = "Q") { return run(router->deliver(test::message(std::move(id), {"a@x.test"}))); }
};

TEST(RouterFleet, SharedModeSendsAtTheFleetsSlotsNotTheLocalRate) {
  Fixture f;
  f.build(60);  // locally 1 per second (30/min in fallback); the fleet decides here
  const SteadyTime start = f.clock.now();
  for (int i = 0; i < 5; ++i) {
    FleetSlot s;
    s.kind = FleetSlot::Kind::granted;
    s.due = start + std::chrono::milliseconds(100 * i);
    f.fleet->answers.push_back(s);
  }
  for (int i = 0; i < 5; ++i) EXPECT_EQ(f.send("Q" + std::to_string(i)).outcome, Outcome::delivered);
  auto times = f.fake->times();
  ASSERT_EQ(times.size(), 5u);
  EXPECT_EQ(times[4] - start, 400ms) << "five sends in 0.4 s: the local limit would need 8 s";
  EXPECT_EQ(f.fleet->asked, 5);
  EXPECT_EQ(f.fleet->results.size(), 5u) << "every answer goes to the fleet";
  EXPECT_EQ(f.router->snapshot()[0].fleet_shared, std::optional<bool>(true));
  f.fleet->shared_ = false;
  EXPECT_EQ(f.router->snapshot()[0].fleet_shared, std::optional<bool>(false));
}

TEST(RouterFleet, RefusedByTheFleetStaysQueuedUntilItsNextSlot) {
  Fixture f;
  f.build(60);
  FleetSlot refused;
  refused.kind = FleetSlot::Kind::refused;
  refused.next = f.clock.now() + 90s;
  f.fleet->answers.push_back(refused);
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(f.fake->calls(), 0);
  ASSERT_TRUE(r.retry_after);
  EXPECT_GE(*r.retry_after, f.clock.wall_now() + 89s);
  EXPECT_LE(*r.retry_after, f.clock.wall_now() + 91s);
}

TEST(RouterFleet, FallbackModeUsesTheLocalLimiterAtTheFraction) {
  Fixture f;
  f.build(120, 0.25);  // 2/s shared; 0.5/s alone
  f.fleet->shared_ = false;
  const SteadyTime start = f.clock.now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.send("Q" + std::to_string(i)).outcome, Outcome::delivered);
  EXPECT_EQ(f.fleet->asked, 0);
  auto times = f.fake->times();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[2] - start, 4s) << "one every 2 s: a quarter of the shared rate";
}

TEST(RouterFleet, AStoreFailureDuringTheCallFallsBackToTheLocalLimiter) {
  Fixture f;
  f.build(120, 0.5);
  FleetSlot local;
  local.kind = FleetSlot::Kind::local;
  f.fleet->answers.push_back(local);
  f.fleet->answers.push_back(local);
  const SteadyTime start = f.clock.now();
  EXPECT_EQ(f.send("Q1").outcome, Outcome::delivered);
  EXPECT_EQ(f.send("Q2").outcome, Outcome::delivered);
  auto times = f.fake->times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[1] - start, 1s) << "1/s: half the shared 2/s";
}

TEST(RouterFleet, FollowsThePauseOfTheFleet) {
  Fixture f;
  f.build(6000);
  f.fleet->view_.paused_until = f.clock.now() + 20s;
  const SteadyTime start = f.clock.now();
  EXPECT_EQ(f.send().outcome, Outcome::delivered);
  ASSERT_EQ(f.fake->times().size(), 1u);
  EXPECT_GE(f.fake->times()[0] - start, 20s) << "held back until the fleet's pause ends";
  EXPECT_GE(f.router->snapshot()[0].limiter.paused_seconds, 0.0);
}

TEST(RouterFleet, ACircuitOpenedElsewhereOpensHere) {
  Fixture f;
  f.build(6000);
  f.fleet->view_.open_until = f.clock.now() + 45s;
  auto r = f.send();
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_EQ(f.fake->calls(), 0);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::open);
  ASSERT_TRUE(r.retry_after);
  EXPECT_GE(*r.retry_after, f.clock.wall_now() + 44s);
  // At that time it half-opens as usual and the probe goes through.
  f.fleet->view_.open_until = {};
  f.clock.advance(46s);
  EXPECT_EQ(f.send().outcome, Outcome::delivered);
  EXPECT_EQ(f.router->snapshot()[0].breaker.state, BreakerState::closed);
}

TEST(RouterFleet, TellsTheFleetWhenItsCircuitOpensAndCloses) {
  Fixture f;
  int calls = 0;
  f.build(6000, 0.5,
          [&calls](const upstream::OutboundMessage& m, int) {
            ++calls;
            return calls <= 2 ? test::result_for(m, Outcome::temporary, "421 4.3.0 down")
                              : test::result_for(m, Outcome::delivered, "250 ok");
          },
          2);
  f.send("Q1");
  f.send("Q2");
  ASSERT_EQ(f.fleet->circuits.size(), 1u);
  EXPECT_EQ(f.fleet->circuits[0].first, BreakerState::open);
  EXPECT_EQ(f.fleet->circuits[0].second, f.clock.now() + 60s);
  f.clock.advance(61s);
  EXPECT_EQ(f.send("Q3").outcome, Outcome::delivered);
  ASSERT_EQ(f.fleet->circuits.size(), 2u);
  EXPECT_EQ(f.fleet->circuits[1].first, BreakerState::closed);
}

TEST(RouterFleet, ALocalSlotIsTakenAgainFromTheFleetWhenItComesBack) {
  Fixture f;
  f.build(60, 0.5);  // locally 0.5/s in fallback
  f.fleet->shared_ = false;
  const SteadyTime start = f.clock.now();
  f.fleet->switch_at = start + 1s;  // Redis is back while Q2 waits for its local slot (due at +2 s)
  EXPECT_EQ(f.send("Q1").outcome, Outcome::delivered);
  FleetSlot later;
  later.kind = FleetSlot::Kind::granted;
  later.due = start + 3s;
  f.fleet->answers.push_back(later);
  EXPECT_EQ(f.send("Q2").outcome, Outcome::delivered);
  EXPECT_EQ(f.fleet->asked, 1) << "the fleet gave the slot in the end";
  auto times = f.fake->times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[1] - start, 3s) << "sent at the fleet's slot, not the local one";
}

TEST(RouterFleet, AFleetSlotIsTakenAgainLocallyWhenRedisGoesAway) {
  Fixture f;
  f.build(60, 0.5);
  const SteadyTime start = f.clock.now();
  f.fleet->switch_at = start + 1s;  // Redis goes away while the delivery waits for its fleet slot (+5 s)
  FleetSlot later;
  later.kind = FleetSlot::Kind::granted;
  later.due = start + 5s;
  f.fleet->answers.push_back(later);
  EXPECT_EQ(f.send("Q1").outcome, Outcome::delivered);
  EXPECT_LT(f.router->snapshot()[0].limiter.tokens, 1.0) << "the local limiter counted it";
  EXPECT_EQ(f.send("Q2").outcome, Outcome::delivered);
  auto times = f.fake->times();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[1] - times[0], 2s) << "then the local 0.5/s holds";
  EXPECT_EQ(f.fleet->asked, 1);
}

TEST(FallbackOptions, ScalesEveryLimitAndKeepsAtLeastOne) {
  conf::UpstreamOptions o;
  o.rate_limit = 600;
  o.burst_limit = 10;
  o.max_send_rate = 4.0;
  o.min_rate_limit = 100;
  o.max_rate_limit = 1000;
  auto half = fallback_options(o, 0.5);
  EXPECT_EQ(half.rate_limit, 300u);
  EXPECT_EQ(half.burst_limit, 5u);
  EXPECT_DOUBLE_EQ(*half.max_send_rate, 2.0);
  EXPECT_EQ(half.min_rate_limit, 50u);
  EXPECT_EQ(half.max_rate_limit, 500u);
  o.rate_limit = 1;
  EXPECT_EQ(fallback_options(o, 0.1).rate_limit, 1u);
  EXPECT_FALSE(fallback_options(conf::UpstreamOptions{}, 0.5).rate_limit) << "unlimited stays unlimited";
}

}  // namespace
}  // namespace smarthost::policy
