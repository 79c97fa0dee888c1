// Lookups on a relay snapshot (see relay_snapshot.h).
#include "ops/relay_snapshot.h"

namespace smarthost::ops {

const UpstreamHealth* RelaySnapshot::health_of(const std::string& name) const {
  for (const auto& h : health)
    if (h.name == name) return &h;
  return nullptr;
}

const UpstreamCounts* RelaySnapshot::tally_of(const std::string& name) const {
  for (const auto& t : tallies)
    if (t.name == name) return &t;
  return nullptr;
}

std::string RelaySnapshot::state_of(const policy::UpstreamSnapshot& u) const {
  if (!u.healthy) return "down";
  if (u.breaker.state == policy::BreakerState::open) return "open";
  if (u.breaker.state == policy::BreakerState::half_open) return "half_open";
  if (u.limiter.paused_seconds > 0) return "paused";
  return "up";
}

}  // namespace smarthost::ops
