// Scenario: an HTTP 429 with Retry-After pauses that upstream, through `smarthost serve` with a Mailgun upstream
// pointed at a local fake. The first send gets "429, Retry-After: 2"; nothing more reaches the API for two
// seconds, then the throttled message and the ones queued behind it go out.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(PolicyRetryAfter, A429PausesTheUpstream) {
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  FakeHttpServer api([&](const HttpExchange&) {
    std::lock_guard lock(mutex);
    arrivals.push_back(std::chrono::steady_clock::now());
    FakeAnswer a;
    if (arrivals.size() == 1) {
      a.status = 429;
      a.headers = {{"Retry-After", "2"}, {"Content-Type", "application/json"}};
      a.body = R"({"message":"Too many requests"})";
    } else {
      a.headers = {{"Content-Type", "application/json"}};
      a.body = R"({"id":"<20260101.1@mg.example.com>","message":"Queued. Thank you."})";
    }
    return a;
  });
  RelayOptions o;
  o.upstream = "provider = \"mailgun\"\nname = \"api\"\n[config]\napi_key = \"key-test-123\"\ndomain = "
               "\"mg.example.com\"\nendpoint = \"" + api.base_url() + "\"\n";
  Relay relay(o);
  {
    // A short retry schedule, so the pause (not the schedule) decides when the first message goes again.
    std::string cfg = read_file(relay.config_path());
    cfg.insert(cfg.find("[queue]\n") + 8, "retry_schedule = [1]\n");
    std::ofstream(relay.config_path()) << cfg;
  }
  if (!relay.start()) {
    if (relay.log().find("is not available in this build") != std::string::npos)
      GTEST_SKIP() << "the mailgun provider is not built into smarthost yet";
    FAIL() << relay.log();
  }

  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();
  SmtpWire wire(relay.port());
  ASSERT_EQ(reply_code(wire.reply()), 220);
  wire.command("EHLO client.test");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(submit(wire, Letter{}).accepted());
  wire.command("QUIT");

  ASSERT_TRUE(api.wait_for_requests(5, 10s)) << relay.log();
  std::lock_guard lock(mutex);
  for (size_t i = 1; i < arrivals.size(); ++i)
    EXPECT_GE(arrivals[i] - arrivals[0], 1900ms) << "request " << i << " came during the pause";
  EXPECT_NE(relay.log().find("upstream=api paused for"), std::string::npos) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
