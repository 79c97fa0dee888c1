// Scenario: alerting. The primary upstream (a Mailgun fake) fails its health checks; the alert fires to a local
// webhook receiver (JSON with a `text` field) and by email through the relay's own router (the file fallback takes
// it, since the primary is out of rotation); when the primary answers again a recovery notice follows on both.
// Alert mail is never counted as traffic.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <mutex>

#include "tests/integration/ops_http.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> texts(const FakeHttpServer& receiver) {
  std::vector<std::string> out;
  for (const auto& x : receiver.exchanges()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(x.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("text")) out.emplace_back(v.as_object().at("text").as_string());
  }
  return out;
}

bool any_has(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

TEST(OpsAlert, UpstreamDownFiresToTheWebhookAndByMailThenRecovers) {
  std::atomic<bool> refuse{false};
  FakeHttpServer api([&](const HttpExchange& x) {
    FakeAnswer a;
    a.headers = {{"Content-Type", "application/json"}};
    if (x.method == "GET" && refuse) {
      a.status = 503;
      a.body = R"({"message":"Service Unavailable"})";
    } else if (x.method == "GET") {
      a.body = R"({"domain":{"name":"mg.example.com","state":"active"}})";
    } else {
      a.body = R"({"id":"<1@mg.example.com>","message":"Queued. Thank you."})";
    }
    return a;
  });
  std::atomic<int> hook_calls{0};
  FakeHttpServer receiver([&](const HttpExchange&) {
    // The first notice meets a hiccup: the channel retries it.
    return FakeAnswer{++hook_calls == 1 ? 502 : 200, {}, "ok"};
  });
  TempDir outbox;
  RelayOptions o;
  o.upstream = "[primary_provider]\nprovider = \"mailgun\"\nname = \"mailgun0\"\n[primary_provider.config]\n"
               "api_key = \"key-test-123\"\ndomain = \"mg.example.com\"\nendpoint = \"" + api.base_url() +
               "\"\nfrom_email = \"relay@example.com\"\n\n"
               "[[fallback_providers]]\nprovider = \"file\"\nname = \"spare\"\n[fallback_providers.config]\ndir = \"" +
               outbox.path().string() + "\"\n";
  o.extra = "\n[monitoring.health_check]\nenabled = true\ninterval = 1\ntimeout = 1\nfailure_threshold = 1\n"
            "\n[alerting]\ncooldown = 0\n"
            "[[alerting.notification_channels]]\ntype = \"webhook\"\nurl = \"" + receiver.base_url() + "/hook\"\n"
            "[[alerting.notification_channels]]\ntype = \"email\"\nrecipients = [\"oncall@example.com\"]\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_NE(relay.log().find("alerts go to webhook, email"), std::string::npos) << relay.log();
  ASSERT_TRUE(eventually([&] { return http_get(relay.metrics_port(), "/readyz").status == 200; })) << relay.log();

  refuse = true;
  // The first POST meets the 502; the retry (after about a second) is answered.
  ASSERT_TRUE(eventually([&] { return hook_calls.load() >= 2; }, 10s)) << relay.log();
  ASSERT_TRUE(any_has(texts(receiver), "FIRING upstream_down:mailgun0")) << relay.log();
  EXPECT_NE(relay.log().find("alert upstream_down:mailgun0 firing"), std::string::npos) << relay.log();
  EXPECT_NE(relay.log().find("webhook attempt 1 failed (HTTP 502)"), std::string::npos) << relay.log();
  auto firing = receiver.exchanges().back();
  EXPECT_EQ(firing.target, "/hook");
  auto body = boost::json::parse(firing.body).as_object();
  EXPECT_EQ(body.at("state").as_string(), "firing");
  EXPECT_EQ(body.at("upstream").as_string(), "mailgun0");
  EXPECT_EQ(body.at("host").as_string(), "relay.test");

  // The alert mail went through the router to the fallback (the primary is out of rotation).
  auto mail_with = [&](const std::string& subject) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(outbox.path(), ec))
      if (e.path().extension() == ".eml" && read_file(e.path()).find(subject) != std::string::npos) return true;
    return false;
  };
  ASSERT_TRUE(eventually([&] { return mail_with("Subject: [smarthost relay.test] FIRING: upstream_down:mailgun0"); }))
      << relay.log();
  auto status = boost::json::parse(http_get(relay.metrics_port(), "/status").body).as_object();
  ASSERT_EQ(status.at("alerts").as_array().size(), 1u) << status;
  EXPECT_EQ(status.at("alerts").as_array().at(0).as_object().at("alert").as_string(), "upstream_down:mailgun0");

  refuse = false;
  ASSERT_TRUE(eventually([&] { return any_has(texts(receiver), "RESOLVED upstream_down:mailgun0"); }, 10s))
      << relay.log();
  EXPECT_EQ(boost::json::parse(receiver.exchanges().back().body).as_object().at("state").as_string(), "resolved");
  EXPECT_NE(relay.log().find("alert upstream_down:mailgun0 resolved"), std::string::npos);
  // The recovery mail goes to the primary again, now back in rotation.
  ASSERT_TRUE(eventually([&] {
    for (const auto& x : api.exchanges())
      if (x.method == "POST" && x.body.find("RESOLVED: upstream_down:mailgun0") != std::string::npos) return true;
    return false;
  })) << relay.log();

  auto text = http_get(relay.metrics_port(), "/metrics").body;
  EXPECT_EQ(metric(text, "smarthost_messages_delivered_total{upstream=\"spare\"}"), 0.0) << "alert mail is not traffic";
  EXPECT_EQ(metric(text, "smarthost_messages_delivered_total{upstream=\"mailgun0\"}"), 0.0);
  EXPECT_EQ(metric(text, "smarthost_alert_notifications_total{channel=\"webhook\",result=\"sent\"}"), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_alert_notifications_total{channel=\"email\",result=\"sent\"}"), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_alerts_firing{rule=\"upstream_down\"}"), 0.0);
}

}  // namespace
}  // namespace smarthost::test
