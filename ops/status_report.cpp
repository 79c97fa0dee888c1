// The /status JSON and the log summary line (see status_report.h).
#include "ops/status_report.h"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>

#include "ops/logging.h"

namespace smarthost::ops {

namespace json = boost::json;

std::string status_json(const RelaySnapshot& s) {
  json::object o;
  o["version"] = s.version;
  o["hostname"] = s.hostname;
  o["uptime_seconds"] = static_cast<int64_t>(s.uptime_seconds);
  o["config"] = json::object{{"path", s.config_path}, {"sha256", s.config_sha256}};
  o["ready"] = s.readiness.ready;
  o["ready_reason"] = s.readiness.reason;
  o["draining"] = s.draining;
  json::array listeners;
  for (const auto& l : s.listeners) listeners.push_back(json::value(l));
  o["listeners"] = std::move(listeners);
  o["connections"] = json::object{{"current", s.server.connections_current},
                                  {"total", s.server.connections_total},
                                  {"refused", s.server.connections_refused}};
  uint64_t rejected = 0;
  for (auto n : s.rejections) rejected += n;
  rejected += s.server.messages_rejected >= s.data_stage_rejections ? s.server.messages_rejected - s.data_stage_rejections : 0;
  o["messages"] = json::object{{"accepted", s.server.messages_accepted},
                               {"rejected", rejected},
                               {"recipients_delivered", s.scheduler.delivered},
                               {"recipients_deferred", s.scheduler.deferred},
                               {"recipients_failed", s.scheduler.failed},
                               {"bounces", s.scheduler.bounces}};
  json::object queue{{"messages", s.queue.total()},
                     {"active", s.queue.active},
                     {"held", s.queue.held},
                     {"failed", s.queue.failed},
                     {"delivering", s.queue.delivering},
                     {"bytes", s.queue.bytes},
                     {"oldest_age_seconds", s.queue.oldest_age.count()}};
  o["queue"] = std::move(queue);
  json::object window{{"seconds", s.window_span.count()},
                      {"attempts", s.window.attempts},
                      {"errors", s.window.errors},
                      {"error_rate", s.window.error_rate}};
  if (s.window.p95_ms) window["p95_ms"] = std::llround(*s.window.p95_ms);
  o["window"] = std::move(window);

  json::array upstreams;
  for (const auto& u : s.upstreams) {
    json::object j;
    j["name"] = u.name;
    j["state"] = s.state_of(u);
    j["circuit"] = std::string(policy::to_string(u.breaker.state));
    j["healthy"] = u.healthy;
    // Fleet mode: "shared" while the limits and breakers live in Redis, "local" on the fallback.
    if (u.fleet_shared) j["fleet"] = *u.fleet_shared ? "shared" : "local";
    if (u.limiter.limited) {
      j["rate_per_second"] = u.limiter.rate_per_second;
      j["tokens"] = u.limiter.tokens;
    }
    if (u.limiter.paused_seconds > 0) j["paused_seconds"] = u.limiter.paused_seconds;
    if (u.latency_ms) j["latency_ms"] = std::llround(*u.latency_ms);
    j["in_flight"] = u.in_flight;
    j["waiting"] = u.waiting;
    j["attempts"] = u.attempts;
    j["delivered"] = u.delivered;
    j["failed"] = u.failed;
    if (const auto* t = s.tally_of(u.name)) {
      j["temporary_failures"] = t->temporary;
      j["permanent_failures"] = t->permanent + t->upstream_refused;
      j["throttled"] = t->throttled;
    }
    if (const auto* h = s.health_of(u.name); h && h->checked) {
      j["health"] = json::object{{"ok", h->last_ok},
                                 {"detail", redact(h->last_detail)},
                                 {"consecutive_failures", h->consecutive_failures},
                                 {"checked_at", format_rfc3339(h->last_checked)}};
    }
    upstreams.push_back(std::move(j));
  }
  o["upstreams"] = std::move(upstreams);

  json::array alerts;
  for (const auto& a : s.alerts)
    alerts.push_back(json::object{{"alert", a.key}, {"summary", a.summary}, {"since", format_rfc3339(a.since)},
                                  {"announced", a.announced}});
  o["alerts"] = std::move(alerts);

  json::array errors;
  for (const auto& e : s.recent_errors)
    errors.push_back(json::object{{"time", format_rfc3339(e.when)},
                                  {"upstream", e.upstream},
                                  {"queue_id", e.queue_id},
                                  {"error", redact(e.reply)}});
  o["last_errors"] = std::move(errors);

  o["process"] = json::object{{"resident_bytes", s.process.resident_bytes}, {"open_fds", s.process.open_fds}};
  return json::serialize(o) + "\n";
}

std::string summary_line(const RelaySnapshot& s) {
  uint64_t rejected = 0;
  for (auto n : s.rejections) rejected += n;
  rejected += s.server.messages_rejected >= s.data_stage_rejections ? s.server.messages_rejected - s.data_stage_rejections : 0;
  std::string upstreams;
  for (const auto& u : s.upstreams) {
    upstreams += (upstreams.empty() ? "" : ", ") + u.name + " " + s.state_of(u);
    if (u.latency_ms) upstreams += fmt::format(" {:.0f}ms", *u.latency_ms);
  }
  std::string line = fmt::format(
      "stats: connections={} accepted={} rejected={} delivered={} deferred={} failed={} queue={} oldest={}s "
      "errors={:.1f}%",
      s.server.connections_current, s.server.messages_accepted, rejected, s.scheduler.delivered, s.scheduler.deferred,
      s.scheduler.failed, s.queue.total(), s.queue.oldest_age.count(), s.window.error_rate * 100);
  if (s.window.p95_ms) line += fmt::format(" p95={:.0f}ms", *s.window.p95_ms);
  line += " upstreams=[" + upstreams + "]";
  if (!s.alerts.empty()) line += " alerts=" + std::to_string(s.alerts.size());
  return line;
}

}  // namespace smarthost::ops
