// Mode changes of fleet mode: starting -> shared | fallback, shared <-> fallback; one log line and one alert each.
#include "policy/redis/fleet_status.h"

#include <spdlog/spdlog.h>

namespace smarthost::policy::redis {

FleetStatus::FleetStatus(std::string where, double fraction) : where_(std::move(where)), fraction_(fraction) {}

void FleetStatus::set_alert_hook(AlertHook hook) {
  std::lock_guard lock(mutex_);
  hook_ = std::move(hook);
}

void FleetStatus::on_connection(bool up, const std::string& why) {
  AlertHook hook;
  std::string message;
  bool degraded = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (up) {
      if (mode_ == Mode::shared) return;
      if (mode_ == Mode::fallback) {
        const double spell = std::chrono::duration<double>(now - fallback_since_).count();
        health_.fallback_seconds += spell;
        ++health_.recoveries;
        message = "fleet: redis " + where_ + " reachable again after " + fmt::format("{:.1f}", spell) +
                  "s; rate limits, pauses, circuits and dedup are shared again";
        hook = hook_;
      } else {
        message = "fleet: rate limits, pauses, circuits and dedup shared through redis " + where_;
      }
      mode_ = Mode::shared;
      health_.shared = true;
      spdlog::info("{}", message);
    } else {
      health_.last_error = why;
      if (mode_ == Mode::fallback) return;
      mode_ = Mode::fallback;
      health_.shared = false;
      ++health_.fallbacks;
      fallback_since_ = now;
      message = "fleet: redis " + where_ + " unavailable (" + why + "); each instance falls back to local limits at " +
                fmt::format("{:.0f}", fraction_ * 100) + "% of the shared ones; mail keeps flowing";
      spdlog::warn("{}", message);
      degraded = true;
      hook = hook_;
    }
  }
  if (hook) hook(degraded, message);
}

bool FleetStatus::shared() const {
  std::lock_guard lock(mutex_);
  return mode_ == Mode::shared;
}

FleetHealth FleetStatus::health() const {
  std::lock_guard lock(mutex_);
  FleetHealth h = health_;
  if (mode_ == Mode::fallback) {
    h.fallback_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - fallback_since_).count();
  }
  return h;
}

}  // namespace smarthost::policy::redis
