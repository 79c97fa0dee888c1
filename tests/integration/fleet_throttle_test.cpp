// Scenario: a 429 seen by one instance slows the others. Relay 0's first send gets "429, Retry-After: 3"; relays
// 1 and 2 then get mail, and nothing of theirs reaches the API before the pause ends. With the adaptive rate on,
// the fleet's shared rate is halved in Redis too.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/fleet_harness.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(FleetThrottle, OneRelaysRetryAfterPausesTheWholeFleet) {
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  FleetApi api([](size_t index, const HttpExchange&) {
    FakeAnswer a;
    if (index == 0) {
      a.status = 429;
      a.headers = {{"Retry-After", "3"}, {"Content-Type", "application/json"}};
      a.body = R"({"message":"Too many requests"})";
    }
    return a;
  });
  FleetOptions o;
  o.options = "rate_limit = 600\nrate_limit_window = 60\nburst_limit = 10\nadaptive_rate_limiting = true\n"
              "rate_adjustment_factor = 0.5\n";
  Fleet fleet(redis, api, o);
  ASSERT_TRUE(fleet.start()) << fleet.logs();
  for (size_t i = 0; i < fleet.size(); ++i) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (fleet[i].log().find("shared through redis") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }

  ASSERT_EQ(submit_many(fleet[0], 0, 1), 1u);
  ASSERT_TRUE(api.wait_arrived(1, 10s)) << fleet.logs();
  const auto throttled_at = api.arrivals().front().at;
  std::this_thread::sleep_for(300ms);  // relay 0 tells Redis in the background
  ASSERT_EQ(submit_many(fleet[1], 1, 2), 2u);
  ASSERT_EQ(submit_many(fleet[2], 2, 2), 2u);

  ASSERT_TRUE(api.wait_delivered(4, 15s)) << fleet.logs();
  for (const auto& a : api.arrivals()) {
    if (a.from.starts_with("relay0")) continue;
    EXPECT_GE(a.at - throttled_at, 2700ms) << a.from << " reached the API during the fleet's pause";
  }
  EXPECT_NE(fleet[0].log().find("upstream=api paused for"), std::string::npos) << fleet[0].log();
  EXPECT_TRUE(redis.cli({"HGET", "smarthost:fleet:api", "rate"}).starts_with("5"))
      << "shared rate: " << redis.cli({"HGETALL", "smarthost:fleet:api"});
}

}  // namespace
}  // namespace smarthost::test
