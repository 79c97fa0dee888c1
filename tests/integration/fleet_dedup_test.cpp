// Scenario: the dedup cache is shared. A message delivered through relay A and then submitted again (same
// Message-ID, sender, recipients and body) to relay B gets its 250 from B but is not delivered a second time.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/fleet_harness.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(FleetDedup, ADuplicateToAnotherRelayIsNotDeliveredAgain) {
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.start()) << redis.log();
  FleetApi api;
  FleetOptions o;
  o.relays = 2;
  o.caching = "enable_response_caching = true\ncache_ttl = 600\ncache_key_prefix = \"fleet-test:\"\n";
  Fleet fleet(redis, api, o);
  ASSERT_TRUE(fleet.start()) << fleet.logs();
  for (size_t i = 0; i < fleet.size(); ++i) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (fleet[i].log().find("shared through redis") == std::string::npos && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
  }

  Letter letter;
  letter.message_id = "<once.only@fleet.test>";
  ASSERT_TRUE(submit(fleet[0].port(), letter).accepted());
  ASSERT_TRUE(api.wait_delivered(1, 10s)) << fleet.logs();

  auto again = submit(fleet[1].port(), letter);
  EXPECT_TRUE(again.accepted()) << again.end;
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(api.arrivals().size(), 1u) << "delivered twice";
  EXPECT_NE(fleet[1].log().find("duplicate of qid="), std::string::npos) << fleet[1].log();
  EXPECT_NE(redis.cli({"KEYS", "fleet-test:dedup:*"}).find("fleet-test:dedup:"), std::string::npos);

  // A different message to relay B still goes out.
  Letter other = letter;
  other.message_id = "<another@fleet.test>";
  ASSERT_TRUE(submit(fleet[1].port(), other).accepted());
  EXPECT_TRUE(api.wait_delivered(2, 10s)) << fleet.logs();
}

}  // namespace
}  // namespace smarthost::test
