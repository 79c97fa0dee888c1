// The Prometheus rendering of a relay snapshot (see relay_metrics.h). Family names and help texts are listed here,
// in the order they appear.
#include "ops/relay_metrics.h"

#include <algorithm>

namespace smarthost::ops {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

double d(uint64_t v) { return static_cast<double>(v); }

void one(Exposition& e, const char* name, const char* help, const char* type, double value, Labels labels = {}) {
  e.family(name, help, type);
  e.sample(name, labels, value);
}

void traffic(Exposition& e, const RelaySnapshot& s) {
  one(e, "smarthost_smtp_connections", "SMTP connections open now", "gauge", d(s.server.connections_current));
  e.family("smarthost_smtp_connections_total", "SMTP connections since start, by result", "counter");
  uint64_t refused = s.server.connections_refused;
  e.sample("smarthost_smtp_connections_total", {{"result", "accepted"}},
           d(s.server.connections_total >= refused ? s.server.connections_total - refused : 0));
  e.sample("smarthost_smtp_connections_total", {{"result", "refused"}}, d(refused));
  e.family("smarthost_tls_handshakes_total", "inbound TLS handshakes (STARTTLS and implicit TLS), by result",
           "counter");
  e.sample("smarthost_tls_handshakes_total", {{"result", "ok"}}, d(s.server.tls_handshakes));
  e.sample("smarthost_tls_handshakes_total", {{"result", "failed"}}, d(s.server.tls_failures));
  one(e, "smarthost_messages_accepted_total", "messages accepted from clients (queued or passed through)", "counter",
      d(s.server.messages_accepted));
  e.family("smarthost_messages_delivered_total", "messages an upstream took, by upstream", "counter");
  for (const auto& t : s.tallies) e.sample("smarthost_messages_delivered_total", {{"upstream", t.name}}, d(t.delivered));
  e.family("smarthost_recipients_total", "recipients whose delivery ended or was put off, by result", "counter");
  e.sample("smarthost_recipients_total", {{"result", "delivered"}}, d(s.scheduler.delivered));
  e.sample("smarthost_recipients_total", {{"result", "deferred"}}, d(s.scheduler.deferred));
  e.sample("smarthost_recipients_total", {{"result", "failed"}}, d(s.scheduler.failed));
  one(e, "smarthost_bounces_total", "bounce messages queued", "counter", d(s.scheduler.bounces));
  one(e, "smarthost_delivery_attempts_total", "messages handed to the upstreams (each attempt)", "counter",
      d(s.scheduler.attempts));
}

void errors(Exposition& e, const RelaySnapshot& s) {
  e.family("smarthost_messages_rejected_total", "messages, recipients and clients refused on the SMTP side, by reason",
           "counter");
  for (size_t i = 0; i < kRejectReasons; ++i)
    e.sample("smarthost_messages_rejected_total", {{"reason", std::string(to_string(static_cast<RejectReason>(i)))}},
             d(s.rejections[i]));
  // The server counts every message refused after DATA; the policy's own refusals there are counted above.
  uint64_t after_data = s.server.messages_rejected >= s.data_stage_rejections
                            ? s.server.messages_rejected - s.data_stage_rejections
                            : 0;
  e.sample("smarthost_messages_rejected_total", {{"reason", "content"}}, d(after_data));
  e.family("smarthost_delivery_failures_total", "failed delivery attempts, by upstream and kind", "counter");
  for (const auto& t : s.tallies) {
    e.sample("smarthost_delivery_failures_total", {{"upstream", t.name}, {"kind", "temporary"}}, d(t.temporary));
    e.sample("smarthost_delivery_failures_total", {{"upstream", t.name}, {"kind", "permanent"}}, d(t.permanent));
    e.sample("smarthost_delivery_failures_total", {{"upstream", t.name}, {"kind", "upstream_refused"}},
             d(t.upstream_refused));
  }
  e.family("smarthost_upstream_throttled_total", "answers that asked to slow down (429, 454, throttling), by upstream",
           "counter");
  for (const auto& t : s.tallies) e.sample("smarthost_upstream_throttled_total", {{"upstream", t.name}}, d(t.throttled));
  one(e, "smarthost_delivery_error_ratio", "share of failed attempts (temporary or refused by the upstream) in the window",
      "gauge", s.window.error_rate);
}

void delivery_time(Exposition& e, const RelaySnapshot& s) {
  e.family("smarthost_delivery_duration_seconds", "time of one delivery attempt, by upstream", "histogram");
  for (const auto& t : s.tallies) e.histogram("smarthost_delivery_duration_seconds", {{"upstream", t.name}}, t.latency);
  e.family("smarthost_delivery_duration_p95_seconds", "p95 delivery time in the window (an upper estimate)", "gauge");
  if (s.window.p95_ms) e.sample("smarthost_delivery_duration_p95_seconds", {}, *s.window.p95_ms / 1000.0);
}

void queue(Exposition& e, const RelaySnapshot& s) {
  e.family("smarthost_queue_messages", "messages in the spool, by folder", "gauge");
  e.sample("smarthost_queue_messages", {{"folder", "active"}}, d(s.queue.active));
  e.sample("smarthost_queue_messages", {{"folder", "hold"}}, d(s.queue.held));
  e.sample("smarthost_queue_messages", {{"folder", "failed"}}, d(s.queue.failed));
  one(e, "smarthost_queue_delivering", "messages in a delivery attempt now", "gauge", d(s.queue.delivering));
  one(e, "smarthost_queue_bytes", "bytes of the messages in the spool", "gauge", d(s.queue.bytes));
  one(e, "smarthost_queue_oldest_message_age_seconds", "age of the oldest active or held message", "gauge",
      static_cast<double>(s.queue.oldest_age.count()));
  one(e, "smarthost_spool_commit_groups_total", "groups of spool changes made durable together (group commit)",
      "counter", d(s.spool.groups));
  one(e, "smarthost_spool_commits_total", "spool changes made durable: new messages, state updates, moves",
      "counter", d(s.spool.changes));
  e.family("smarthost_spool_syncs_total", "syncs that reached the disk: syncfs per group, fdatasync per file, folder fsyncs",
           "counter");
  e.sample("smarthost_spool_syncs_total", {{"kind", "filesystem"}}, d(s.spool.syncs.filesystem));
  e.sample("smarthost_spool_syncs_total", {{"kind", "file"}}, d(s.spool.syncs.file));
  e.sample("smarthost_spool_syncs_total", {{"kind", "directory"}}, d(s.spool.syncs.directory));
  one(e, "smarthost_spool_unclean_start", "1 when this start found no clean-stop mark: the last stop was a crash or a kill",
      "gauge", s.spool_recovery.unclean ? 1.0 : 0.0);
  one(e, "smarthost_spool_set_aside", "files this start moved to corrupt/: torn by a crash (never acknowledged) or damaged",
      "gauge", d(s.spool_recovery.set_aside));
}

void upstreams(Exposition& e, const RelaySnapshot& s) {
  e.family("smarthost_upstream_up", "1 while the upstream takes mail (healthy, circuit not open)", "gauge");
  for (const auto& u : s.upstreams) {
    std::string state = s.state_of(u);
    e.sample("smarthost_upstream_up", {{"upstream", u.name}}, state == "up" || state == "half_open" || state == "paused");
  }
  e.family("smarthost_circuit_breaker_state", "the circuit breaker's state: 1 for the current one", "gauge");
  for (const auto& u : s.upstreams) {
    for (auto state : {policy::BreakerState::closed, policy::BreakerState::open, policy::BreakerState::half_open})
      e.sample("smarthost_circuit_breaker_state", {{"upstream", u.name}, {"state", std::string(policy::to_string(state))}},
               u.breaker.state == state ? 1 : 0);
  }
  e.family("smarthost_circuit_breaker_opened_total", "times the circuit opened", "counter");
  for (const auto& u : s.upstreams)
    e.sample("smarthost_circuit_breaker_opened_total", {{"upstream", u.name}}, d(u.breaker.opened));
  e.family("smarthost_rate_limiter_tokens", "messages the upstream's send limiter would let go now", "gauge");
  for (const auto& u : s.upstreams)
    if (u.limiter.limited) e.sample("smarthost_rate_limiter_tokens", {{"upstream", u.name}}, u.limiter.tokens);
  e.family("smarthost_rate_limiter_rate", "the send limiter's current rate, messages per second", "gauge");
  for (const auto& u : s.upstreams)
    if (u.limiter.limited) e.sample("smarthost_rate_limiter_rate", {{"upstream", u.name}}, u.limiter.rate_per_second);
  e.family("smarthost_rate_limiter_throttled_total", "throttling answers the send limiter adapted to", "counter");
  for (const auto& u : s.upstreams)
    e.sample("smarthost_rate_limiter_throttled_total", {{"upstream", u.name}}, d(u.limiter.throttled));
  e.family("smarthost_rate_limiter_paused_seconds", "seconds left of a Retry-After pause", "gauge");
  for (const auto& u : s.upstreams)
    e.sample("smarthost_rate_limiter_paused_seconds", {{"upstream", u.name}}, u.limiter.paused_seconds);
  e.family("smarthost_upstream_in_flight", "deliveries running now", "gauge");
  for (const auto& u : s.upstreams) e.sample("smarthost_upstream_in_flight", {{"upstream", u.name}}, u.in_flight);
  e.family("smarthost_upstream_waiting", "deliveries waiting for a send slot", "gauge");
  for (const auto& u : s.upstreams) e.sample("smarthost_upstream_waiting", {{"upstream", u.name}}, u.waiting);
}

void health(Exposition& e, const RelaySnapshot& s) {
  if (!s.health_checks) return;
  e.family("smarthost_health_checks_total", "upstream health probes, by result", "counter");
  for (const auto& h : s.health) {
    e.sample("smarthost_health_checks_total", {{"upstream", h.name}, {"result", "ok"}}, d(h.probes_ok));
    e.sample("smarthost_health_checks_total", {{"upstream", h.name}, {"result", "failed"}}, d(h.probes_failed));
  }
  e.family("smarthost_health_check_healthy", "1 while the health checks keep the upstream in rotation", "gauge");
  for (const auto& h : s.health) e.sample("smarthost_health_check_healthy", {{"upstream", h.name}}, h.healthy);
  e.family("smarthost_health_check_consecutive_failures", "failed probes in a row", "gauge");
  for (const auto& h : s.health)
    e.sample("smarthost_health_check_consecutive_failures", {{"upstream", h.name}}, h.consecutive_failures);
  e.family("smarthost_health_check_duration_seconds", "how long the last probe took", "gauge");
  for (const auto& h : s.health)
    if (h.checked) e.sample("smarthost_health_check_duration_seconds", {{"upstream", h.name}}, h.last_duration_seconds);
}

void alerts(Exposition& e, const RelaySnapshot& s) {
  if (!s.alerting) return;
  e.family("smarthost_alerts_firing", "alerts whose condition holds now, by rule", "gauge");
  for (const char* rule : {"error_rate", "latency_p95", "queue_size", "upstream_down", "circuit_open"}) {
    auto n = std::count_if(s.alerts.begin(), s.alerts.end(), [&](const ActiveAlert& a) {
      return a.key.substr(0, a.key.find(':')) == rule;
    });
    e.sample("smarthost_alerts_firing", {{"rule", rule}}, static_cast<double>(n));
  }
  e.family("smarthost_alert_notifications_total", "alert notices handed to a channel, by channel and result", "counter");
  for (const auto& c : s.channels) {
    e.sample("smarthost_alert_notifications_total", {{"channel", c.kind}, {"result", "sent"}}, d(c.sent));
    e.sample("smarthost_alert_notifications_total", {{"channel", c.kind}, {"result", "failed"}}, d(c.failed));
  }
}

void process(Exposition& e, const RelaySnapshot& s) {
  one(e, "smarthost_process_resident_memory_bytes", "resident memory", "gauge", d(s.process.resident_bytes));
  one(e, "smarthost_process_virtual_memory_bytes", "virtual memory", "gauge", d(s.process.virtual_bytes));
  one(e, "smarthost_process_open_fds", "open file descriptors", "gauge", d(s.process.open_fds));
  one(e, "smarthost_process_max_fds", "the open file limit", "gauge", d(s.process.max_fds));
  one(e, "smarthost_process_cpu_seconds_total", "user and system CPU time", "counter", s.process.cpu_seconds);
  one(e, "smarthost_uptime_seconds", "seconds since the relay started", "gauge", s.uptime_seconds);
  one(e, "smarthost_ready", "1 while /readyz says ready", "gauge", s.readiness.ready);
}

}  // namespace

std::string render_metrics(const RelaySnapshot& s, const MetricFamilies& families) {
  Exposition e;
  one(e, "smarthost_build_info", "the running version", "gauge", 1, {{"version", s.version}});
  one(e, "smarthost_config_info", "the configuration in force (SHA-256 of the effective configuration)", "gauge", 1,
      {{"sha256", s.config_sha256}});
  if (families.throughput) traffic(e, s);
  if (families.error_rates) errors(e, s);
  if (families.delivery_time) delivery_time(e, s);
  queue(e, s);
  upstreams(e, s);
  health(e, s);
  alerts(e, s);
  process(e, s);
  return e.take();
}

}  // namespace smarthost::ops
