// A relay snapshot with a little of everything, for the rendering tests.
#pragma once

#include "ops/relay_snapshot.h"

namespace smarthost::ops::test {

inline RelaySnapshot sample_snapshot() {
  RelaySnapshot s;
  s.version = "0.1.0";
  s.hostname = "relay.test";
  s.config_path = "/etc/smarthost/smarthost.toml";
  s.config_sha256 = "0123456789abcdef0123456789abcdef";
  s.uptime_seconds = 3725;
  s.server.connections_current = 2;
  s.server.connections_total = 12;
  s.server.connections_refused = 1;
  s.server.tls_handshakes = 5;
  s.server.tls_failures = 1;
  s.server.messages_accepted = 9;
  s.server.messages_rejected = 3;
  s.listeners = {"127.0.0.1:2525"};
  s.scheduler.delivered = 8;
  s.scheduler.deferred = 2;
  s.scheduler.failed = 1;
  s.queue.active = 4;
  s.queue.held = 1;
  s.queue.failed = 2;
  s.queue.delivering = 1;
  s.queue.bytes = 2 * 1024 * 1024;
  s.queue.oldest_age = std::chrono::seconds(400);
  s.queue.scanned = true;

  policy::UpstreamSnapshot a;
  a.name = "mailgun0";
  a.limiter.limited = true;
  a.limiter.rate_per_second = 2.5;
  a.limiter.tokens = 3;
  a.latency_ms = 312;
  a.attempts = 10;
  a.delivered = 8;
  a.failed = 2;
  a.fleet_shared = false;  // fleet mode, Redis unreachable: local limits
  policy::UpstreamSnapshot b;
  b.name = "smtp \"backup\"";
  b.healthy = false;
  b.breaker.state = policy::BreakerState::open;
  b.breaker.opened = 1;
  s.upstreams = {a, b};

  UpstreamCounts ta;
  ta.name = "mailgun0";
  ta.delivered = 8;
  ta.temporary = 2;
  ta.throttled = 1;
  const double bounds[] = {0.1, 1};
  Histogram h(bounds);
  h.observe(0.3);
  ta.latency = h.snapshot();
  s.tallies = {ta};

  s.health_checks = true;
  UpstreamHealth ha;
  ha.name = "mailgun0";
  ha.checked = true;
  ha.probes_ok = 3;
  ha.last_detail = "GET /v3/domains/mg.example.com: HTTP 200";
  UpstreamHealth hb;
  hb.name = "smtp \"backup\"";
  hb.checked = true;
  hb.healthy = false;
  hb.last_ok = false;
  hb.consecutive_failures = 3;
  hb.probes_failed = 3;
  hb.last_detail = "451 4.4.1 smarthost: cannot connect to 127.0.0.1:1: Connection refused";
  s.health = {ha, hb};

  s.window.attempts = 10;
  s.window.errors = 2;
  s.window.error_rate = 0.2;
  s.window.p95_ms = 400;
  s.rejections[static_cast<size_t>(RejectReason::relay_denied)] = 4;
  s.data_stage_rejections = 1;
  s.recent_errors.push_back(RecentError{std::chrono::system_clock::from_time_t(1714564800), "mailgun0", "Q1",
                                        "HTTP 429: slow down"});
  s.alerting = true;
  s.alerts.push_back(ActiveAlert{"upstream_down:smtp \"backup\"", "upstream smtp \"backup\" is down", true,
                                 std::chrono::system_clock::from_time_t(1714564800)});
  s.channels.push_back(ChannelCounts{"webhook", 2, 1});
  s.process.resident_bytes = 1000;
  s.process.open_fds = 12;
  s.readiness.ready = true;
  s.readiness.reason = "ready";
  return s;
}

}  // namespace smarthost::ops::test
