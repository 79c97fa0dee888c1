// Health-check verdicts (see health_tracker.h).
#include "ops/health_tracker.h"

namespace smarthost::ops {

void HealthTracker::set_upstreams(const std::vector<std::string>& names) {
  std::lock_guard lock(mutex_);
  std::vector<UpstreamHealth> next;
  for (const auto& name : names) {
    UpstreamHealth h;
    h.name = name;
    for (const auto& old : upstreams_)
      if (old.name == name) h = old;
    next.push_back(std::move(h));
  }
  upstreams_ = std::move(next);
}

std::optional<bool> HealthTracker::record(size_t index, bool ok, std::string detail, std::chrono::duration<double> took,
                                          std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (index >= upstreams_.size()) return std::nullopt;
  UpstreamHealth& h = upstreams_[index];
  h.checked = true;
  h.last_ok = ok;
  h.last_detail = std::move(detail);
  h.last_duration_seconds = took.count();
  h.last_checked = now;
  bool was = h.healthy;
  if (ok) {
    ++h.probes_ok;
    h.consecutive_failures = 0;
    h.last_success = now;
    h.healthy = true;
  } else {
    ++h.probes_failed;
    ++h.consecutive_failures;
    if (h.consecutive_failures >= threshold_) h.healthy = false;
  }
  if (h.healthy != was) return h.healthy;
  return std::nullopt;
}

std::vector<UpstreamHealth> HealthTracker::snapshot() const {
  std::lock_guard lock(mutex_);
  return upstreams_;
}

}  // namespace smarthost::ops
