// Scenario: redis-server is killed mid-run and started again. The three relays log the fallback once, keep
// delivering on local limits (half the shared rate each), log the recovery, return to shared limits, and every
// message submitted before, during and after the outage is delivered exactly once.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/integration/fleet_harness.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

bool wait_for_logs(Fleet& fleet, const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (size_t i = 0; i < fleet.size(); ++i) all = all && fleet[i].log().find(text) != std::string::npos;
    if (all) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(FleetRedisOutage, NoMailIsLostAndTheFleetRecovers) {
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  FleetApi api;
  FleetOptions o;
  o.options = "rate_limit = 600\nrate_limit_window = 60\nburst_limit = 10\n";
  Fleet fleet(redis, api, o);
  ASSERT_TRUE(fleet.start()) << fleet.logs();
  ASSERT_TRUE(wait_for_logs(fleet, "shared through redis", 5s)) << fleet.logs();

  auto round = [&](size_t first) {
    std::vector<std::thread> clients;
    for (size_t i = 0; i < fleet.size(); ++i)
      clients.emplace_back([&, i] { EXPECT_EQ(submit_many(fleet[i], i, 10, first), 10u); });
    for (auto& c : clients) c.join();
  };
  round(0);
  redis.kill();
  ASSERT_TRUE(wait_for_logs(fleet, "falls back to local limits", 5s)) << fleet.logs();
  round(10);
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(redis.start()) << redis.log();
  ASSERT_TRUE(wait_for_logs(fleet, "reachable again", 10s)) << fleet.logs();
  round(20);

  ASSERT_TRUE(api.wait_delivered(90, 30s)) << "delivered " << api.delivered() << "\n" << fleet.logs();
  std::this_thread::sleep_for(500ms);
  auto arrivals = api.arrivals();
  std::set<std::string> senders;
  for (const auto& a : arrivals) senders.insert(a.from);
  EXPECT_EQ(senders.size(), 90u) << "every message arrived";
  EXPECT_EQ(arrivals.size(), 90u) << "and only once";
  for (size_t i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(count(fleet[i].log(), "falls back to local limits"), 1u) << "logged once, not per attempt";
    EXPECT_EQ(count(fleet[i].log(), "reachable again"), 1u);
  }
}

}  // namespace
}  // namespace smarthost::test
