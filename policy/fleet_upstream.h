// An upstream's state shared with the other relay instances of a fleet: its send budget, Retry-After pauses, its
// adaptive rate and its circuit. The router consults it beside its own limiter and breaker (which stay the
// fallback); without one, routing is exactly as before. Implemented over Redis in policy/redis/shared_upstream.h.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>

#include "conf/config.h"
#include "policy/circuit_breaker.h"
#include "policy/clock.h"
#include "upstream/transport.h"

namespace smarthost::policy {

// A send slot asked of the fleet.
struct FleetSlot {
  enum class Kind {
    granted,  // `due` is the slot's time (now or later)
    refused,  // none within the wait asked for; `next` is the earliest the fleet could have one
    local,    // the shared store did not answer: use the local limiter
  };
  Kind kind = Kind::local;
  SteadyTime due{};
  SteadyTime next{};
};

// What the fleet last said about the upstream (times in the past mean "nothing").
struct FleetView {
  SteadyTime paused_until{};  // a Retry-After / rate-limit reset pause seen by some instance
  SteadyTime open_until{};    // some instance opened the circuit until then
};

class FleetUpstream {
 public:
  virtual ~FleetUpstream() = default;
  // True while the shared store answers: the fleet's budget limits sends. False (down or slow): the router's
  // local limiter does, set to the fallback fraction of the shared limit. Cheap, thread-safe.
  virtual bool shared() const = 0;
  // A send slot from the fleet's budget within `max_wait`. Never throws; completes within the store's timeout.
  virtual boost::asio::awaitable<FleetSlot> acquire(std::chrono::nanoseconds max_wait) = 0;
  // One delivery answer: throttling lowers the shared rate, Retry-After pauses the fleet, successes raise the
  // rate again. Returns at once (the store is written in the background). Thread-safe.
  virtual void on_result(const upstream::DeliveryResult& result, SteadyTime now, WallTime wall_now) = 0;
  // This instance's circuit opened (until `reopens_at`) or closed again. Returns at once. Thread-safe.
  virtual void on_circuit(BreakerState state, SteadyTime reopens_at) = 0;
  // The fleet's pause and circuit as last seen. Cheap, thread-safe.
  virtual FleetView view() const = 0;
};

// The local limiter's options while the fleet falls back: rate_limit, burst_limit, max_send_rate and the adaptive
// bounds scaled by `fraction` (0 < fraction <= 1), never below one message per window.
conf::UpstreamOptions fallback_options(const conf::UpstreamOptions& options, double fraction);

}  // namespace smarthost::policy
