// Scenario: `smarthost serve` with its operations endpoint. Mail in and out shows in /metrics (accepted,
// delivered per upstream, a relay refusal by reason, latency, config sha256); /healthz, /readyz and /status answer
// JSON; `smarthost status` prints the table; export_interval writes the summary line; only GET is served; while
// draining /readyz says 503.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <signal.h>

#include "tests/integration/ops_http.h"
#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(OpsMetrics, TrafficHealthReadinessStatusAndTheLogSummary) {
  RelayOptions o;
  o.server_extra = "allowed_recipient_domains = [\"example.net\"]\n";
  Relay relay(o);
  {
    std::string cfg = read_file(relay.config_path());
    cfg.insert(cfg.find("[metrics]\n") + 10, "export_interval = 1\n");
    std::ofstream(relay.config_path()) << cfg;
  }
  ASSERT_TRUE(relay.start()) << relay.log();
  const int ops = relay.metrics_port();
  ASSERT_TRUE(eventually([&] { return http_get(ops, "/healthz").status == 200; })) << relay.log();

  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  Letter two;
  two.to = {"user@example.net", "someone@elsewhere.example"};  // the second is refused: relay denied
  auto s = submit(relay.port(), two);
  ASSERT_TRUE(s.accepted());
  EXPECT_EQ(reply_code(s.rcpts[1]), 554);
  ASSERT_TRUE(relay.wait_delivered(2)) << relay.log();

  // The upstream's tally counts a delivery first; the scheduler's recipient count, the duration histogram and the
  // removal from active/ follow a moment later (after the spool records it). Wait for all of them.
  std::string text;
  ASSERT_TRUE(eventually([&] {
    text = http_get(ops, "/metrics").body;
    return metric(text, "smarthost_messages_delivered_total{upstream=\"file0\"}") == 2.0 &&
           metric(text, "smarthost_recipients_total{result=\"delivered\"}") == 2.0 &&
           metric(text, "smarthost_delivery_duration_seconds_count{upstream=\"file0\"}") == 2.0 &&
           metric(text, "smarthost_queue_messages{folder=\"active\"}") == 0.0;
  })) << text;
  EXPECT_EQ(metric(text, "smarthost_messages_accepted_total"), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_messages_rejected_total{reason=\"relay_denied\"}"), 1.0) << text;
  // The harness's own port checks connect too: at least the two submissions.
  EXPECT_GE(metric(text, "smarthost_smtp_connections_total{result=\"accepted\"}").value_or(0), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_recipients_total{result=\"delivered\"}"), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_delivery_duration_seconds_count{upstream=\"file0\"}"), 2.0) << text;
  EXPECT_EQ(metric(text, "smarthost_queue_messages{folder=\"active\"}"), 0.0) << text;
  // The group commit's counts: two new messages, each made durable with a data sync and a folder fsync.
  EXPECT_GE(metric(text, "smarthost_spool_commits_total").value_or(0), 2.0) << text;
  EXPECT_GE(metric(text, "smarthost_spool_commit_groups_total").value_or(0), 1.0) << text;
  EXPECT_LE(metric(text, "smarthost_spool_commit_groups_total").value_or(99),
            metric(text, "smarthost_spool_commits_total").value_or(0)) << text;
  EXPECT_GE(metric(text, "smarthost_spool_syncs_total{kind=\"file\"}").value_or(0) +
                metric(text, "smarthost_spool_syncs_total{kind=\"filesystem\"}").value_or(0),
            1.0) << text;
  EXPECT_GE(metric(text, "smarthost_spool_syncs_total{kind=\"directory\"}").value_or(0), 1.0) << text;
  // A first start: no crash behind it, nothing set aside.
  EXPECT_EQ(metric(text, "smarthost_spool_unclean_start"), 0.0) << text;
  EXPECT_EQ(metric(text, "smarthost_spool_set_aside"), 0.0) << text;
  EXPECT_EQ(metric(text, "smarthost_upstream_up{upstream=\"file0\"}"), 1.0) << text;
  EXPECT_GT(metric(text, "smarthost_process_resident_memory_bytes").value_or(0), 1e6) << text;
  EXPECT_GT(metric(text, "smarthost_process_open_fds").value_or(0), 3) << text;
  // The same SHA-256 as the start-up banner.
  auto log = relay.log();
  auto at = log.find("(sha256=");
  ASSERT_NE(at, std::string::npos) << log;
  std::string sha = log.substr(at + 8, 64);
  EXPECT_EQ(metric(text, "smarthost_config_info{sha256=\"" + sha + "\"}"), 1.0) << text;
  EXPECT_NE(text.find("# TYPE smarthost_delivery_duration_seconds histogram"), std::string::npos);
  EXPECT_EQ(text.find("example.net"), std::string::npos) << "no recipient in any label";

  auto ready = http_get(ops, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  auto r = boost::json::parse(ready.body).as_object();
  EXPECT_TRUE(r.at("ready").as_bool());
  EXPECT_TRUE(r.at("checks").as_object().at("spool").as_object().at("ok").as_bool());

  auto status = http_get(ops, "/status");
  ASSERT_EQ(status.status, 200);
  auto st = boost::json::parse(status.body).as_object();
  EXPECT_EQ(st.at("upstreams").as_array().at(0).as_object().at("name").as_string(), "file0");
  EXPECT_EQ(st.at("upstreams").as_array().at(0).as_object().at("state").as_string(), "up");
  EXPECT_EQ(st.at("messages").as_object().at("accepted").to_number<int>(), 2);

  auto table = run({smarthost_bin().string(), "status", "--config", relay.config_path().string()});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("ready: yes"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("UPSTREAM"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("file0"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("queue: 0 messages"), std::string::npos) << table.out;
  auto json = run({smarthost_bin().string(), "status", "--json", "--url", "http://127.0.0.1:" + std::to_string(ops)});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(boost::json::parse(json.out).as_object().at("hostname").as_string(), "relay.test");

  auto post = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
                   "http://127.0.0.1:" + std::to_string(ops) + "/metrics"});
  EXPECT_EQ(post.out, "405");
  EXPECT_EQ(http_get(ops, "/nothing").status, 404);

  ASSERT_TRUE(eventually([&] { return relay.log().find("stats: connections=") != std::string::npos; }, 5s));
  EXPECT_NE(relay.log().find("accepted=2 rejected=1 delivered=2"), std::string::npos) << relay.log();

  // Draining: a session in a transaction keeps the relay up (an idle one is told 421 at once and closed, and the
  // relay could be gone before the checks below); meanwhile it is alive but not ready.
  SmtpWire open_session(relay.port());
  ASSERT_EQ(reply_code(open_session.reply()), 220);
  ASSERT_EQ(reply_code(open_session.command("EHLO draining.example")), 250);
  ASSERT_EQ(reply_code(open_session.command("MAIL FROM:<a@example.org>")), 250);
  relay.stop(0ms);
  ASSERT_TRUE(eventually([&] { return http_get(ops, "/readyz").status == 503; }, 5s)) << relay.log();
  EXPECT_NE(http_get(ops, "/readyz").body.find("shutting down"), std::string::npos);
  EXPECT_EQ(http_get(ops, "/healthz").status, 200);
  open_session.command("QUIT");
  EXPECT_EQ(relay.stop(), 0);
}

TEST(OpsMetrics, StatusWithoutARelaySaysSo) {
  auto r = run({smarthost_bin().string(), "status", "--url", "http://127.0.0.1:" + std::to_string(free_port())});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_NE(r.err.find("is the relay running?"), std::string::npos) << r.err;
}

TEST(OpsMetrics, TrackFlagsSwitchFamiliesOff) {
  Relay relay;
  {
    std::string cfg = read_file(relay.config_path());
    cfg.insert(cfg.find("[metrics]\n") + 10, "track_delivery_time = false\ntrack_error_rates = false\n");
    std::ofstream(relay.config_path()) << cfg;
  }
  ASSERT_TRUE(relay.start()) << relay.log();
  HttpGot got;
  ASSERT_TRUE(eventually([&] { return (got = http_get(relay.metrics_port(), "/metrics")).status == 200; }));
  EXPECT_EQ(got.body.find("smarthost_delivery_duration_seconds"), std::string::npos);
  EXPECT_EQ(got.body.find("smarthost_delivery_failures_total"), std::string::npos);
  EXPECT_NE(got.body.find("smarthost_messages_accepted_total"), std::string::npos);
  EXPECT_NE(got.body.find("smarthost_queue_messages"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::test
