// The four balancing strategies and the configured-order one used by single and failover routing.
#include "policy/balancer.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace smarthost::policy {
namespace {

std::vector<size_t> indexes(std::span<const Candidate> c) {
  std::vector<size_t> out;
  out.reserve(c.size());
  for (const auto& x : c) out.push_back(x.index);
  return out;
}

// single / failover: the primary first, then the fallbacks in order.
class ConfiguredOrder final : public Balancer {
 public:
  std::vector<size_t> order(std::span<const Candidate> c) override { return indexes(c); }
};

class RoundRobin final : public Balancer {
 public:
  std::vector<size_t> order(std::span<const Candidate> c) override {
    auto out = indexes(c);
    std::rotate(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(next_++ % out.size()), out.end());
    return out;
  }

 private:
  uint64_t next_ = 0;
};

// Smooth weighted round robin: every pick adds each weight to its upstream's score, takes the highest score and
// lowers it by the total. Over any run of total-weight picks each upstream gets exactly its weight, interleaved.
class Weighted final : public Balancer {
 public:
  explicit Weighted(size_t upstreams) : score_(upstreams, 0) {}
  std::vector<size_t> order(std::span<const Candidate> c) override {
    int64_t total = 0;
    size_t best = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      if (c[i].index >= score_.size()) score_.resize(c[i].index + 1, 0);
      score_[c[i].index] += c[i].weight;
      total += c[i].weight;
      if (score_[c[i].index] > score_[c[best].index]) best = i;
    }
    score_[c[best].index] -= total;
    std::vector<size_t> out{c[best].index};
    std::vector<Candidate> rest;
    for (size_t i = 0; i < c.size(); ++i)
      if (i != best) rest.push_back(c[i]);
    std::stable_sort(rest.begin(), rest.end(), [](const Candidate& a, const Candidate& b) { return a.weight > b.weight; });
    for (const auto& r : rest) out.push_back(r.index);
    return out;
  }

 private:
  std::vector<int64_t> score_;
};

// Fewest deliveries in flight; ties go round robin so equal loads spread.
class LeastConnections final : public Balancer {
 public:
  std::vector<size_t> order(std::span<const Candidate> c) override {
    std::vector<Candidate> v(c.begin(), c.end());
    size_t shift = next_++ % v.size();
    std::rotate(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(shift), v.end());
    std::stable_sort(v.begin(), v.end(), [](const Candidate& a, const Candidate& b) { return a.in_flight < b.in_flight; });
    return indexes(v);
  }

 private:
  uint64_t next_ = 0;
};

// Lowest moving-average latency. Unmeasured upstreams go first (they need a measurement), and a small share of
// picks goes to a random candidate so an upstream that was slow or down gets measured again.
class ResponseTime final : public Balancer {
 public:
  explicit ResponseTime(uint64_t seed) : random_(seed ? seed : std::random_device{}()) {}
  std::vector<size_t> order(std::span<const Candidate> c) override {
    std::vector<Candidate> v(c.begin(), c.end());
    std::stable_sort(v.begin(), v.end(), [](const Candidate& a, const Candidate& b) {
      if (!a.latency_ms || !b.latency_ms) return !a.latency_ms && b.latency_ms;
      return *a.latency_ms < *b.latency_ms;
    });
    if (v.size() > 1 && std::uniform_real_distribution<double>(0, 1)(random_) < kExploration) {
      size_t pick = std::uniform_int_distribution<size_t>(0, v.size() - 1)(random_);
      std::rotate(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(pick), v.begin() + static_cast<std::ptrdiff_t>(pick) + 1);
    }
    return indexes(v);
  }

 private:
  std::mt19937_64 random_;
};

}  // namespace

std::unique_ptr<Balancer> make_balancer(conf::Routing routing, size_t upstreams, uint64_t seed) {
  switch (routing) {
    case conf::Routing::single:
    case conf::Routing::failover: return std::make_unique<ConfiguredOrder>();
    case conf::Routing::round_robin: return std::make_unique<RoundRobin>();
    case conf::Routing::weighted: return std::make_unique<Weighted>(upstreams);
    case conf::Routing::least_connections: return std::make_unique<LeastConnections>();
    case conf::Routing::response_time: return std::make_unique<ResponseTime>(seed);
  }
  return std::make_unique<ConfiguredOrder>();
}

}  // namespace smarthost::policy
