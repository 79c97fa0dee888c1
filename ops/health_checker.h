// Active upstream health checks ([monitoring.health_check]): every `interval` each upstream's transport is probed
// (Transport::probe, bounded by `timeout`); the verdicts (HealthTracker) take an upstream out of the router's
// rotation after `failure_threshold` consecutive failures and bring it back on the first success. One probe per
// upstream at a time. Runs on its own strand; it never delivers mail.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "conf/config.h"
#include "ops/health_tracker.h"
#include "ops/recorder.h"

namespace smarthost::ops {

struct HealthCheckSettings {
  std::chrono::milliseconds interval{300000};
  std::chrono::milliseconds timeout{10000};  // for one whole probe
  uint32_t failure_threshold = 3;
  static HealthCheckSettings from(const conf::HealthCheckConfig& config);
};

class HealthChecker : public std::enable_shared_from_this<HealthChecker> {
 public:
  using Targets = std::function<std::vector<ProbeTarget>()>;       // the upstreams to probe, router order
  using Verdict = std::function<void(size_t index, bool healthy)>;  // into or out of rotation

  HealthChecker(boost::asio::any_io_executor executor, HealthCheckSettings settings, Targets targets,
                Verdict verdict);
  ~HealthChecker();

  // The first round at once, then one every interval.
  void start();
  // No more rounds; probes still running finish without a verdict.
  void stop();
  std::vector<UpstreamHealth> snapshot() const;
  const HealthCheckSettings& settings() const { return settings_; }

 private:
  struct Loop;
  HealthCheckSettings settings_;
  std::shared_ptr<Loop> loop_;
};

}  // namespace smarthost::ops
