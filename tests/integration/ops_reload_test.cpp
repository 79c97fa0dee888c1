// Scenario: a SIGHUP reload that switches health checks on and a metric family off: the operations parts follow
// the new configuration without a restart, on the same endpoint.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>

#include "tests/integration/ops_http.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(OpsReload, HealthChecksAndTrackFlagsFollowAReload) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  const int ops = relay.metrics_port();
  std::string text;
  ASSERT_TRUE(eventually([&] { return !(text = http_get(ops, "/metrics").body).empty(); })) << relay.log();
  EXPECT_EQ(text.find("smarthost_health_checks_total"), std::string::npos) << "health checks are off";
  EXPECT_NE(text.find("smarthost_delivery_duration_seconds"), std::string::npos);

  std::string cfg = read_file(relay.config_path());
  cfg.insert(cfg.find("[metrics]\n") + 10, "track_delivery_time = false\n");
  cfg += "\n[monitoring.health_check]\nenabled = true\ninterval = 1\ntimeout = 1\n";
  std::ofstream(relay.config_path()) << cfg;
  ::kill(relay.pid(), SIGHUP);

  ASSERT_TRUE(eventually([&] {
    text = http_get(ops, "/metrics").body;
    return metric(text, "smarthost_health_checks_total{upstream=\"file0\",result=\"ok\"}").value_or(0) >= 1;
  })) << text << relay.log();
  EXPECT_EQ(text.find("smarthost_delivery_duration_seconds"), std::string::npos) << text;
  EXPECT_NE(relay.log().find("configuration reloaded"), std::string::npos) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
