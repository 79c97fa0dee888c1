// The alert rules (see alert_rules.h).
#include "ops/alert_rules.h"

#include <fmt/format.h>

#include <ctime>

namespace smarthost::ops {

std::string format_duration(std::chrono::seconds d) {
  auto s = d.count();
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

namespace {
std::string utc(std::chrono::system_clock::time_point when, const char* format) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, format, &tm);
  return std::string(buffer, n);
}
}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point when) { return utc(when, "%Y-%m-%dT%H:%M:%SZ"); }

// The C locale's day and month names are the English ones RFC 5322 wants.
std::string format_rfc5322(std::chrono::system_clock::time_point when) {
  return utc(when, "%a, %d %b %Y %H:%M:%S +0000");
}

std::vector<AlertNotice> AlertRules::evaluate(const AlertInputs& in, std::chrono::system_clock::time_point now) {
  // Every condition that holds now, with its one-line summary.
  std::map<std::string, std::string> holding;
  const auto& t = thresholds_;
  std::string window = format_duration(in.window);
  if (in.attempts >= t.min_attempts && in.error_rate > t.error_rate) {
    holding["error_rate"] = fmt::format("delivery error rate {:.1f}% over the last {} ({} attempts; threshold {:.1f}%)",
                                        in.error_rate * 100, window, in.attempts, t.error_rate * 100);
  }
  if (in.p95_latency_ms && *in.p95_latency_ms > t.p95_latency_ms) {
    holding["latency_p95"] = fmt::format("p95 delivery time {:.0f} ms over the last {} (threshold {:.0f} ms)",
                                         *in.p95_latency_ms, window, t.p95_latency_ms);
  }
  if (in.queue_size > t.queue_size) {
    holding["queue_size"] =
        fmt::format("{} messages in the queue (threshold {})", in.queue_size, t.queue_size);
  }
  for (const auto& name : in.upstreams_down)
    holding["upstream_down:" + name] = fmt::format("upstream {} is down: its health checks fail", name);
  for (const auto& name : in.circuits_open)
    holding["circuit_open:" + name] = fmt::format("upstream {}: circuit breaker open", name);

  std::vector<AlertNotice> notices;
  auto notice = [&](const std::string& key, const Tracked& a, AlertState state, std::string summary) {
    AlertNotice n;
    n.key = key;
    auto colon = key.find(':');
    n.rule = key.substr(0, colon);
    if (colon != std::string::npos) n.upstream = key.substr(colon + 1);
    n.state = state;
    n.summary = std::move(summary);
    n.since = a.since;
    notices.push_back(std::move(n));
  };

  for (const auto& [key, summary] : holding) {
    Tracked& a = alerts_[key];
    if (!a.firing) {
      a.firing = true;
      a.announced = false;
      a.since = now;
    }
    a.summary = summary;
    bool cooled = !a.last_notice || now - *a.last_notice >= t.cooldown;
    if (!a.announced && cooled) {
      a.announced = true;
      a.last_notice = now;
      notice(key, a, AlertState::firing, summary);
    }
  }
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    Tracked& a = it->second;
    if (a.firing && !holding.contains(it->first)) {
      a.firing = false;
      if (a.announced) {
        a.announced = false;
        a.last_notice = now;
        auto lasted = std::chrono::duration_cast<std::chrono::seconds>(now - a.since);
        notice(it->first, a, AlertState::resolved,
               "recovered after " + format_duration(lasted) + " (was: " + a.summary + ")");
      }
    }
    // Forget quiet alerts once their cooldown is over, so that the map stays small.
    if (!a.firing && (!a.last_notice || now - *a.last_notice >= t.cooldown)) {
      it = alerts_.erase(it);
    } else {
      ++it;
    }
  }
  return notices;
}

std::vector<ActiveAlert> AlertRules::active() const {
  std::vector<ActiveAlert> out;
  for (const auto& [key, a] : alerts_)
    if (a.firing) out.push_back(ActiveAlert{key, a.summary, a.announced, a.since});
  return out;
}

}  // namespace smarthost::ops
