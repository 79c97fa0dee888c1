// Routes each message to an upstream and is itself a Transport, so the scheduler sees one delivery interface.
// Failover (primary, then fallbacks) or balancing (round_robin, weighted, least_connections, response_time);
// per upstream a circuit breaker and a send limiter; per recipient the results of several attempts are merged.
// It does not retry later (the queue does) and does not speak any protocol (the transports do).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "policy/circuit_breaker.h"
#include "policy/clock.h"
#include "policy/send_limiter.h"
#include "upstream/transport.h"

namespace smarthost::policy {

class FleetUpstream;

struct RouterSettings {
  conf::Routing routing = conf::Routing::single;
  conf::FailoverPolicy failover;  // max_retries and retry_delay apply within one deliver(); breaker per upstream
  uint64_t seed = 0;              // response_time exploration; 0 = from the system
  // A delivery waits at most this long for its upstream's send slot. Beyond it the message moves on to another
  // upstream, or stays queued (temporary, retry_after = when a slot frees up).
  std::chrono::seconds longest_rate_wait{60};
};

// Per upstream, in the same order as the transports.
struct UpstreamSettings {
  uint32_t weight = 1;
  conf::UpstreamOptions options;
  // Fleet mode: the state shared with other relay instances (fleet_upstream.h). While it is shared, its budget
  // replaces the local limiter's rate (`options` then holds the fallback limits); pauses and circuits follow it.
  std::shared_ptr<FleetUpstream> fleet;
};

// One upstream's state for metrics and `smarthost status`.
struct UpstreamSnapshot {
  std::string name;
  BreakerSnapshot breaker;
  LimiterSnapshot limiter;
  uint32_t in_flight = 0;              // deliveries running
  uint32_t waiting = 0;                // deliveries waiting for a send slot
  std::optional<double> latency_ms;    // moving average
  bool healthy = true;                 // as the health checks last said
  uint64_t attempts = 0, delivered = 0, failed = 0;
  std::optional<bool> fleet_shared;    // fleet mode: true while Redis is shared, false on local fallback limits
};

class Router final : public upstream::Transport {
 public:
  // Defaults for everything but the routing: no limits, default failover policy, the system clock.
  Router(conf::Routing routing, std::vector<std::unique_ptr<upstream::Transport>> upstreams);
  // `per_upstream` is in transport order (missing entries take the defaults). The clock must outlive the router.
  Router(RouterSettings settings, std::vector<std::unique_ptr<upstream::Transport>> upstreams,
         std::vector<UpstreamSettings> per_upstream, const Clock& clock = system_clock());
  // Settings from the configuration; `upstreams` are built from config.upstreams, in the same order. `fleet`
  // (fleet mode, same order, may be shorter) shares upstreams with other instances; their local limits become
  // fallback_options(options, caching.redis_fallback_fraction).
  static std::unique_ptr<Router> from_config(const conf::Config& config,
                                             std::vector<std::unique_ptr<upstream::Transport>> upstreams,
                                             const Clock& clock = system_clock(),
                                             std::vector<std::shared_ptr<FleetUpstream>> fleet = {});
  ~Router() override;

  // Never throws for remote failures. Tries upstreams until every recipient is delivered or permanently refused,
  // or the attempts of this cycle (1 + failover.max_retries; 1 with single routing) run out. A permanent refusal
  // of a recipient ends there; a temporary failure or an upstream's own refusal moves that recipient on. When no
  // upstream can take the message now (circuits open, paused), it comes back temporary with retry_after set.
  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override;
  // The whole batch to one upstream's deliver_batch when one without a rate limit is usable; then each message
  // goes on alone (failover, retries) with what stayed open. Otherwise message by message.
  boost::asio::awaitable<std::vector<upstream::DeliveryResult>> deliver_batch(
      std::span<const upstream::OutboundMessage> batch) override;
  const std::string& name() const override { return name_; }
  size_t size() const;

  // True while new mail should get "451 4.7.0": the upstream(s) that would take it have queue_on_limit = false
  // and one more message, behind the `queued` ones (the queue's size), could not go out within their
  // options.timeout. Thread-safe, cheap.
  bool saturated(size_t queued) const;
  // Closes every open circuit (Transport::retry_now); in fleet mode the other instances hear of it.
  void retry_now() override;
  // Health checks take an upstream out of rotation (false) and back (true). Thread-safe.
  void set_healthy(size_t index, bool healthy);
  // Thread-safe.
  std::vector<UpstreamSnapshot> snapshot() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::string name_ = "router";
};

}  // namespace smarthost::policy
