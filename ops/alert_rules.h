// The alert rules of [alerting], without I/O: each evaluation looks at the sliding window's error rate and p95
// latency, the queue size, the upstreams the health checks took out and the open circuits, and says which alerts
// start firing and which recover. `cooldown` spaces the notices of one alert; a recovery notice follows every
// announced alert. Time is passed in; not thread-safe (the alert loop owns it).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smarthost::ops {

struct AlertThresholds {
  double error_rate = 0.05;       // fraction of attempts in the window
  double p95_latency_ms = 5000;
  uint64_t queue_size = 1000;
  uint64_t min_attempts = 10;     // fewer attempts in the window say nothing about the error rate
  std::chrono::seconds cooldown{900};
};

// What one evaluation sees.
struct AlertInputs {
  uint64_t attempts = 0;               // in the window
  double error_rate = 0;
  std::optional<double> p95_latency_ms;
  uint64_t queue_size = 0;
  std::vector<std::string> upstreams_down;  // taken out by the health checks
  std::vector<std::string> circuits_open;
  std::chrono::seconds window{300};
};

enum class AlertState { firing, resolved };

// One notice to send.
struct AlertNotice {
  std::string key;        // "error_rate", "latency_p95", "queue_size", "upstream_down:<name>", "circuit_open:<name>"
  std::string rule;       // the key without the upstream: what kind of alert
  std::string upstream;   // for upstream_down and circuit_open
  AlertState state = AlertState::firing;
  std::string summary;    // one line, e.g. "error rate 12.0% over the last 5m (threshold 5.0%)"
  std::chrono::system_clock::time_point since{};  // when the condition began
};

struct ActiveAlert {
  std::string key;
  std::string summary;
  bool announced = false;  // a firing notice went out
  std::chrono::system_clock::time_point since{};
};

class AlertRules {
 public:
  explicit AlertRules(AlertThresholds thresholds) : thresholds_(thresholds) {}

  // The notices this evaluation produces: a firing notice for a condition that began (unless its last notice
  // was within cooldown: then it is sent once the cooldown has passed, if still firing), and a recovery notice
  // for an announced alert whose condition ended.
  std::vector<AlertNotice> evaluate(const AlertInputs& inputs, std::chrono::system_clock::time_point now);
  std::vector<ActiveAlert> active() const;
  const AlertThresholds& thresholds() const { return thresholds_; }

 private:
  struct Tracked {
    bool firing = false;
    bool announced = false;
    std::string summary;
    std::chrono::system_clock::time_point since{};
    std::optional<std::chrono::system_clock::time_point> last_notice;
  };
  AlertThresholds thresholds_;
  std::map<std::string, Tracked> alerts_;
};

// "5m", "90s", "2h".
std::string format_duration(std::chrono::seconds duration);
// "2024-05-01T12:00:00Z" (UTC, seconds).
std::string format_rfc3339(std::chrono::system_clock::time_point when);
// "Wed, 01 May 2024 12:00:00 +0000" (RFC 5322 Date).
std::string format_rfc5322(std::chrono::system_clock::time_point when);

}  // namespace smarthost::ops
