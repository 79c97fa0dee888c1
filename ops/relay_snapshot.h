// One consistent-enough picture of the running relay, gathered at once (Monitoring::snapshot) and rendered in
// several ways: Prometheus text (relay_metrics.h), the /status JSON (status_report.h), readiness (readiness.h)
// and the log summary line. A plain value: it holds copies, never the parts.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/alert_rules.h"
#include "ops/health_tracker.h"
#include "ops/metrics.h"
#include "ops/process_stats.h"
#include "ops/queue_census.h"
#include "ops/recorder.h"
#include "ops/sliding_window.h"
#include "policy/router.h"
#include "queue/scheduler.h"
#include "smtpd/server.h"

namespace smarthost::ops {

// The values of one UpstreamTally.
struct UpstreamCounts {
  std::string name;
  uint64_t delivered = 0, temporary = 0, permanent = 0, upstream_refused = 0, throttled = 0;
  uint64_t recipients_delivered = 0;
  Histogram::Snapshot latency;
};

struct ChannelCounts {
  std::string kind;  // webhook | email
  uint64_t sent = 0, failed = 0;
};

struct ReadinessCheck {
  std::string name;  // spool | listeners | upstreams
  bool ok = false;
  std::string detail;
};

struct Readiness {
  bool ready = false;
  std::string reason;  // "ready", or the failed checks' details joined
  std::vector<ReadinessCheck> checks;
};

// Which metric families are on ([metrics] track_* flags).
struct MetricFamilies {
  bool throughput = true;     // connections, messages, recipients, TLS handshakes
  bool error_rates = true;    // failures and throttling per upstream, rejections by reason
  bool delivery_time = true;  // latency histograms
};

struct RelaySnapshot {
  std::string version;
  std::string hostname;
  std::string config_path;
  std::string config_sha256;
  double uptime_seconds = 0;
  bool draining = false;

  smtpd::ServerStats server;
  std::vector<std::string> listeners;
  queue::SchedulerStats scheduler;
  QueueCounts queue;
  queue::SpoolSyncStats spool;
  queue::RecoveryReport spool_recovery;

  std::vector<policy::UpstreamSnapshot> upstreams;  // router order
  std::vector<UpstreamCounts> tallies;              // first-seen order
  bool health_checks = false;                       // [monitoring.health_check] enabled
  std::vector<UpstreamHealth> health;

  SlidingWindow::Summary window;
  std::chrono::seconds window_span{300};
  std::array<uint64_t, kRejectReasons> rejections{};
  uint64_t data_stage_rejections = 0;
  std::vector<RecentError> recent_errors;

  bool alerting = false;
  std::vector<ActiveAlert> alerts;
  std::vector<ChannelCounts> channels;

  ProcessStats process;
  Readiness readiness;

  // The health record of an upstream by name, or null.
  const UpstreamHealth* health_of(const std::string& name) const;
  const UpstreamCounts* tally_of(const std::string& name) const;
  // "up", "down" (health checks), "open" / "half_open" (circuit), "paused" (Retry-After).
  std::string state_of(const policy::UpstreamSnapshot& upstream) const;
};

}  // namespace smarthost::ops
