// The circuit breaker of one upstream: `failure_threshold` consecutive failures open it; after `recovery_timeout`
// it half-opens and lets exactly one probe through, whose result closes it or opens it again. Every state change
// is logged as "upstream=X circuit old -> new". Not thread-safe (the router locks it); no timers: time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/clock.h"

namespace smarthost::policy {

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState state);

struct BreakerSnapshot {
  BreakerState state = BreakerState::closed;
  uint32_t consecutive_failures = 0;
  double reopens_in_seconds = 0;  // open: time until it half-opens
  uint64_t opened = 0;            // times it opened since start
};

class CircuitBreaker {
 public:
  CircuitBreaker(std::string upstream, uint32_t failure_threshold, std::chrono::seconds recovery_timeout);

  // May a delivery start now? Closed: yes. Open: no, until recovery_timeout has passed; then it half-opens and
  // the first caller gets the one probe. Half-open with the probe out: no.
  bool allow(SteadyTime now);
  // The same question without taking the probe.
  bool would_allow(SteadyTime now) const;
  // When an open circuit half-opens (meaningful only while open).
  SteadyTime reopens_at() const { return opened_at_ + recovery_timeout_; }

  // The upstream answered (delivered, or refused the message itself): closes a half-open circuit.
  void record_success(SteadyTime now);
  // A failure of the upstream (unreachable, 4xx/5xx of its own, refused us): counts toward opening; a failed
  // probe opens the circuit again.
  void record_failure(SteadyTime now);
  // An attempt that says nothing about health (throttled, or never sent): gives the probe back.
  void record_neutral();
  // An administrator asked for the queue now (`smarthost queue flush`): forget the failures seen, as Postfix's
  // flush forgets dead destinations. If the upstream is still down, `failure_threshold` more failures open it again.
  void close(std::string_view why);
  // Fleet mode: another relay instance opened this upstream's circuit until `until`; a closed circuit opens
  // here too and half-opens at that time as usual. No effect when not closed or when `until` has passed.
  void trip_until(SteadyTime now, SteadyTime until);

  BreakerState state(SteadyTime now) const;
  BreakerSnapshot snapshot(SteadyTime now) const;

 private:
  void enter(BreakerState next, std::string_view why);

  std::string upstream_;
  uint32_t threshold_;
  std::chrono::seconds recovery_timeout_;
  BreakerState state_ = BreakerState::closed;
  uint32_t failures_ = 0;
  bool probe_out_ = false;
  SteadyTime opened_at_{};
  uint64_t opened_ = 0;
};

}  // namespace smarthost::policy
