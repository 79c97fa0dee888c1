// Scenario: three `smarthost serve` instances share one upstream's rate_limit = 600 per 60 s (burst_limit = 10)
// through a real redis-server. 90 messages reach them at once; alone, each could send its 30 within two seconds,
// but together they stay within burst + rate x t + one lease batch per instance (2 slots at 10/s) over the
// observed window. The window is 5 s instead of the two minutes, to keep CI fast; bench/fleet runs the
// long version.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "tests/integration/fleet_harness.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(FleetSharedLimit, ThreeRelaysTogetherStayWithinOneSharedLimit) {
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  FleetApi api;
  FleetOptions o;
  o.options = "rate_limit = 600\nrate_limit_window = 60\nburst_limit = 10\n";
  Fleet fleet(redis, api, o);
  ASSERT_TRUE(fleet.start()) << fleet.logs();
  for (size_t i = 0; i < fleet.size(); ++i) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (fleet[i].log().find("shared through redis") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    ASSERT_NE(fleet[i].log().find("shared through redis"), std::string::npos) << fleet[i].log();
  }

  std::vector<std::thread> clients;
  std::vector<size_t> accepted(fleet.size());
  for (size_t i = 0; i < fleet.size(); ++i)
    clients.emplace_back([&, i] { accepted[i] = submit_many(fleet[i], i, 30); });
  for (auto& c : clients) c.join();
  for (size_t i = 0; i < fleet.size(); ++i) ASSERT_EQ(accepted[i], 30u) << fleet.logs();

  ASSERT_TRUE(api.wait_delivered(1, 10s)) << fleet.logs();
  const auto first = api.arrivals().front().at;
  std::this_thread::sleep_until(first + 5s);
  auto all = api.arrivals();
  std::vector<Arrival> window;
  for (const auto& a : all)
    if (a.at <= first + 5s) window.push_back(a);

  // burst 10 + 10/s x 5 s + 3 instances x 2 slots (the lease slack) = 66.
  EXPECT_LE(window.size(), 66u) << "the fleet went over the shared limit";
  EXPECT_GE(window.size(), 40u) << "the fleet did not use its budget";
  EXPECT_LE(busiest(window, 1000ms), 10u + 10u + 6u) << "no second saw more than burst + rate + slack";
  std::map<std::string, size_t> per_relay;
  for (const auto& a : window) ++per_relay[a.from.substr(0, a.from.find('-'))];
  for (size_t i = 0; i < fleet.size(); ++i)
    EXPECT_GE(per_relay["relay" + std::to_string(i)], 5u) << "relay" << i << " got a share of the budget";
}

}  // namespace
}  // namespace smarthost::test
