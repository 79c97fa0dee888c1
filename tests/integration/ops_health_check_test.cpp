// Scenario: health checks of a Mailgun upstream (a local fake of its API). While the domain call is refused,
// failure_threshold failed probes take the upstream out of rotation (logged, /readyz 503 with the reason, /status
// and /metrics say down); once it answers again one probe brings it back.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <atomic>

#include "tests/integration/ops_http.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(OpsHealthCheck, FailingProbesTakeTheUpstreamOutAndASuccessBringsItBack) {
  std::atomic<bool> refuse{false};
  FakeHttpServer api([&](const HttpExchange& x) {
    FakeAnswer a;
    a.headers = {{"Content-Type", "application/json"}};
    if (x.method == "GET" && x.target == "/v3/domains/mg.example.com" && !refuse) {
      a.body = R"({"domain":{"name":"mg.example.com","state":"active"}})";
    } else if (x.method == "GET") {
      a.status = 401;
      a.body = R"({"message":"Invalid private key"})";
    } else {
      a.body = R"({"id":"<1@mg.example.com>","message":"Queued. Thank you."})";
    }
    return a;
  });
  RelayOptions o;
  o.upstream = "provider = \"mailgun\"\nname = \"mailgun0\"\n[config]\napi_key = \"key-test-123\"\ndomain = "
               "\"mg.example.com\"\nendpoint = \"" + api.base_url() + "\"\n";
  o.extra = "\n[monitoring.health_check]\nenabled = true\ninterval = 1\ntimeout = 1\nfailure_threshold = 2\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  const int ops = relay.metrics_port();

  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = http_get(ops, "/metrics").body;
    return metric(text, "smarthost_health_checks_total{upstream=\"mailgun0\",result=\"ok\"}").value_or(0) >= 1;
  })) << text << relay.log();
  EXPECT_EQ(http_get(ops, "/readyz").status, 200);
  auto probe = api.exchanges().front();
  EXPECT_EQ(probe.method, "GET");
  EXPECT_EQ(probe.target, "/v3/domains/mg.example.com");
  EXPECT_FALSE(probe.header("authorization").empty());

  refuse = true;
  HttpGot ready;
  ASSERT_TRUE(eventually([&] { return (ready = http_get(ops, "/readyz")).status == 503; }, 8s)) << relay.log();
  EXPECT_NE(ready.body.find("0 of 1 upstreams usable (mailgun0 down)"), std::string::npos) << ready.body;
  EXPECT_NE(relay.log().find("health upstream=mailgun0 up -> down"), std::string::npos) << relay.log();
  EXPECT_NE(relay.log().find("upstream=mailgun0 taken out of rotation (health check)"), std::string::npos);
  auto st = boost::json::parse(http_get(ops, "/status").body).as_object();
  const auto& up = st.at("upstreams").as_array().at(0).as_object();
  EXPECT_EQ(up.at("state").as_string(), "down");
  std::string detail(up.at("health").as_object().at("detail").as_string());
  EXPECT_NE(detail.find("HTTP 401: Invalid private key"), std::string::npos) << detail;
  EXPECT_EQ(detail.find("key-test-123"), std::string::npos) << "no secret in /status";
  text = http_get(ops, "/metrics").body;
  EXPECT_EQ(metric(text, "smarthost_upstream_up{upstream=\"mailgun0\"}"), 0.0) << text;
  EXPECT_EQ(metric(text, "smarthost_health_check_healthy{upstream=\"mailgun0\"}"), 0.0) << text;
  EXPECT_GE(metric(text, "smarthost_health_check_consecutive_failures{upstream=\"mailgun0\"}").value_or(0), 2.0);
  auto table = run({smarthost_bin().string(), "status", "--config", relay.config_path().string()});
  EXPECT_EQ(table.exit_code, 1) << "not ready";
  EXPECT_NE(table.out.find("ready: NO"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("failing x"), std::string::npos) << table.out;

  refuse = false;
  ASSERT_TRUE(eventually([&] { return http_get(ops, "/readyz").status == 200; }, 8s)) << relay.log();
  EXPECT_NE(relay.log().find("health upstream=mailgun0 down -> up"), std::string::npos) << relay.log();
  for (const auto& x : api.exchanges()) EXPECT_EQ(x.method, "GET") << "probes send no mail";
}

}  // namespace
}  // namespace smarthost::test
