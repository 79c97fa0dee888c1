// The alert loop of [alerting]: every second (by default) it gathers the inputs of the alert rules (the recorder's
// window, the queue, the health checks, the circuit breakers), evaluates them, logs each notice and hands it to
// every channel. Without channels the alerts are still evaluated, logged and shown in /status and /metrics.
// Runs on its own strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ops/alert_channels.h"
#include "ops/alert_rules.h"

namespace smarthost::ops {

class AlertNotifier : public std::enable_shared_from_this<AlertNotifier> {
 public:
  using Inputs = std::function<AlertInputs()>;

  AlertNotifier(boost::asio::any_io_executor executor, AlertThresholds thresholds, Inputs inputs,
                std::vector<std::shared_ptr<AlertChannel>> channels, std::string hostname,
                std::chrono::milliseconds every = std::chrono::seconds(1));
  ~AlertNotifier();

  void start();
  void stop();
  // One evaluation now, on the caller's thread (the loop calls it too). Returns the notices it produced.
  std::vector<AlertNotice> evaluate();

  std::vector<ActiveAlert> active() const;
  const std::vector<std::shared_ptr<AlertChannel>>& channels() const { return channels_; }
  const AlertThresholds& thresholds() const { return thresholds_; }
  // The one line a notice is announced with: "[smarthost relay.example] FIRING error_rate: ...".
  static std::string text_of(const AlertNotice& notice, const std::string& hostname);

 private:
  struct Loop;
  AlertThresholds thresholds_;
  Inputs inputs_;
  std::vector<std::shared_ptr<AlertChannel>> channels_;
  std::string hostname_;
  mutable std::mutex mutex_;  // guards rules_
  AlertRules rules_;
  std::shared_ptr<Loop> loop_;
};

}  // namespace smarthost::ops
