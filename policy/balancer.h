// Load-balancing strategies: given the upstreams that may take a message now, the order to try them in (the
// first is the pick; the rest are where a deferred message moves on to). round_robin, weighted (smooth weighted
// round robin, as nginx), least_connections (fewest in flight) and response_time (lowest moving-average latency,
// with a little random exploration). failover/single keep the configured order. Not thread-safe (the router locks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "conf/config.h"

namespace smarthost::policy {

// One upstream as the strategy sees it.
struct Candidate {
  size_t index = 0;                     // position in the router's upstream list
  uint32_t weight = 1;
  uint32_t in_flight = 0;               // deliveries running now
  std::optional<double> latency_ms;     // moving average; none before the first answer
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // The candidates' indexes in the order to try them. `candidates` is non-empty and in configured order.
  virtual std::vector<size_t> order(std::span<const Candidate> candidates) = 0;
};

// The share of picks response_time spends on a random candidate, so a recovered upstream is measured again.
inline constexpr double kExploration = 0.05;

// `upstreams` is the number of configured upstreams (indexes are below it); `seed` feeds response_time's
// exploration (0 = from the system).
std::unique_ptr<Balancer> make_balancer(conf::Routing routing, size_t upstreams, uint64_t seed = 0);

}  // namespace smarthost::policy
