// /metrics rendering: the families, their labels, the config info, and the track_* switches.
#include "ops/relay_metrics.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/unit/ops/sample_snapshot.h"

namespace smarthost::ops {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(RelayMetrics, EveryFamilyWithItsSamples) {
  auto text = render_metrics(test::sample_snapshot(), MetricFamilies{});
  for (const char* line : {
           "smarthost_config_info{sha256=\"0123456789abcdef0123456789abcdef\"} 1",
           "smarthost_build_info{version=\"0.1.0\"} 1",
           "smarthost_smtp_connections 2",
           "smarthost_smtp_connections_total{result=\"accepted\"} 11",
           "smarthost_smtp_connections_total{result=\"refused\"} 1",
           "smarthost_tls_handshakes_total{result=\"failed\"} 1",
           "smarthost_messages_accepted_total 9",
           "smarthost_messages_delivered_total{upstream=\"mailgun0\"} 8",
           "smarthost_recipients_total{result=\"deferred\"} 2",
           "smarthost_messages_rejected_total{reason=\"relay_denied\"} 4",
           "smarthost_messages_rejected_total{reason=\"content\"} 2",
           "smarthost_delivery_failures_total{upstream=\"mailgun0\",kind=\"temporary\"} 2",
           "smarthost_upstream_throttled_total{upstream=\"mailgun0\"} 1",
           "smarthost_delivery_duration_seconds_bucket{upstream=\"mailgun0\",le=\"1\"} 1",
           "smarthost_delivery_duration_seconds_count{upstream=\"mailgun0\"} 1",
           "smarthost_delivery_duration_p95_seconds 0.4",
           "smarthost_queue_messages{folder=\"active\"} 4",
           "smarthost_queue_messages{folder=\"failed\"} 2",
           "smarthost_queue_bytes 2097152",
           "smarthost_queue_oldest_message_age_seconds 400",
           "smarthost_upstream_up{upstream=\"mailgun0\"} 1",
           "smarthost_upstream_up{upstream=\"smtp \\\"backup\\\"\"} 0",
           "smarthost_circuit_breaker_state{upstream=\"smtp \\\"backup\\\"\",state=\"open\"} 1",
           "smarthost_circuit_breaker_state{upstream=\"mailgun0\",state=\"closed\"} 1",
           "smarthost_rate_limiter_tokens{upstream=\"mailgun0\"} 3",
           "smarthost_rate_limiter_rate{upstream=\"mailgun0\"} 2.5",
           "smarthost_health_checks_total{upstream=\"mailgun0\",result=\"ok\"} 3",
           "smarthost_health_check_healthy{upstream=\"smtp \\\"backup\\\"\"} 0",
           "smarthost_health_check_consecutive_failures{upstream=\"smtp \\\"backup\\\"\"} 3",
           "smarthost_alerts_firing{rule=\"upstream_down\"} 1",
           "smarthost_alerts_firing{rule=\"error_rate\"} 0",
           "smarthost_alert_notifications_total{channel=\"webhook\",result=\"failed\"} 1",
           "smarthost_process_open_fds 12",
           "smarthost_ready 1",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
  EXPECT_TRUE(has_line(text, "# TYPE smarthost_delivery_duration_seconds histogram"));
  EXPECT_TRUE(has_line(text, "# TYPE smarthost_messages_rejected_total counter"));
}

TEST(RelayMetrics, TrackFlagsSwitchFamiliesOff) {
  MetricFamilies off{false, false, false};
  auto text = render_metrics(test::sample_snapshot(), off);
  for (const char* gone : {"smarthost_smtp_connections", "smarthost_messages_accepted_total",
                           "smarthost_delivery_failures_total", "smarthost_messages_rejected_total",
                           "smarthost_delivery_duration_seconds"}) {
    EXPECT_EQ(text.find(std::string(gone) + " "), std::string::npos) << gone;
    EXPECT_EQ(text.find(std::string(gone) + "{"), std::string::npos) << gone;
  }
  // Always there: queue, upstream state, process, config.
  EXPECT_TRUE(has_line(text, "smarthost_queue_bytes 2097152"));
  EXPECT_TRUE(has_line(text, "smarthost_upstream_up{upstream=\"mailgun0\"} 1"));
  EXPECT_NE(text.find("smarthost_config_info{"), std::string::npos);
}

TEST(RelayMetrics, EveryLineIsACommentOrASample) {
  auto text = render_metrics(test::sample_snapshot(), MetricFamilies{});
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    ASSERT_FALSE(l.empty());
    if (l[0] == '#') continue;
    EXPECT_EQ(l.rfind("smarthost_", 0), 0u) << l;
    EXPECT_NE(l.rfind(' '), std::string::npos) << l;
  }
}

}  // namespace
}  // namespace smarthost::ops
