// Breaker state machine: closed -> open (threshold reached) -> half_open (timeout passed, one probe) -> closed or open.
#include "policy/circuit_breaker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace smarthost::policy {

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(std::string upstream, uint32_t failure_threshold, std::chrono::seconds recovery_timeout)
    : upstream_(std::move(upstream)), threshold_(std::max<uint32_t>(1, failure_threshold)),
      recovery_timeout_(recovery_timeout) {}

void CircuitBreaker::enter(BreakerState next, std::string_view why) {
  if (next == state_) return;
  auto level = next == BreakerState::open ? spdlog::level::warn : spdlog::level::info;
  spdlog::log(level, "upstream={} circuit {} -> {} ({})", upstream_, to_string(state_), to_string(next), why);
  state_ = next;
}

BreakerState CircuitBreaker::state(SteadyTime now) const {
  if (state_ == BreakerState::open && now >= reopens_at()) return BreakerState::half_open;
  return state_;
}

bool CircuitBreaker::would_allow(SteadyTime now) const {
  switch (state(now)) {
    case BreakerState::closed: return true;
    case BreakerState::open: return false;
    case BreakerState::half_open: return !probe_out_;
  }
  return false;
}

bool CircuitBreaker::allow(SteadyTime now) {
  if (!would_allow(now)) return false;
  if (state_ == BreakerState::open) enter(BreakerState::half_open, "recovery timeout passed; one probe goes through");
  if (state_ == BreakerState::half_open) probe_out_ = true;
  return true;
}

void CircuitBreaker::record_success(SteadyTime) {
  failures_ = 0;
  probe_out_ = false;
  if (state_ != BreakerState::closed) enter(BreakerState::closed, "the probe succeeded");
}

void CircuitBreaker::record_failure(SteadyTime now) {
  ++failures_;
  if (state_ == BreakerState::half_open) {
    probe_out_ = false;
    opened_at_ = now;
    ++opened_;
    enter(BreakerState::open, "the probe failed; next probe in " + std::to_string(recovery_timeout_.count()) + "s");
    return;
  }
  if (state_ == BreakerState::closed && failures_ >= threshold_) {
    opened_at_ = now;
    ++opened_;
    enter(BreakerState::open, std::to_string(failures_) + " consecutive failures; next probe in " +
                                  std::to_string(recovery_timeout_.count()) + "s");
  }
}

void CircuitBreaker::record_neutral() { probe_out_ = false; }

void CircuitBreaker::close(std::string_view why) {
  failures_ = 0;
  probe_out_ = false;
  enter(BreakerState::closed, why);
}

void CircuitBreaker::trip_until(SteadyTime now, SteadyTime until) {
  if (state_ != BreakerState::closed || until <= now) return;
  opened_at_ = until - recovery_timeout_;
  ++opened_;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(until - now).count();
  enter(BreakerState::open, "opened by another relay instance; next probe in " + std::to_string(seconds) + "s");
}

BreakerSnapshot CircuitBreaker::snapshot(SteadyTime now) const {
  BreakerSnapshot s;
  s.state = state(now);
  s.consecutive_failures = failures_;
  if (s.state == BreakerState::open) s.reopens_in_seconds = std::chrono::duration<double>(reopens_at() - now).count();
  s.opened = opened_;
  return s;
}

}  // namespace smarthost::policy
