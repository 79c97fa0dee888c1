// Whether the fleet shares its state right now or each instance runs on local fallback limits, for logs,
// metrics and alerts. The change is logged once each way (not on every reconnect attempt), counted, and passed
// to an alert hook that ops/ can set. Thread-safe. It does not decide anything; the Redis client's connection
// state drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace smarthost::policy::redis {

struct FleetHealth {
  bool shared = false;          // connected: limits, pauses, circuits and dedup are shared
  uint64_t fallbacks = 0;       // times the instance fell back to local limits
  uint64_t recoveries = 0;      // times it came back to shared mode
  std::string last_error;       // why Redis was last unavailable
  double fallback_seconds = 0;  // time in fallback so far (the current spell included)
};

class FleetStatus {
 public:
  // Told on each change after the first connection attempt: degraded = true when falling back.
  using AlertHook = std::function<void(bool degraded, const std::string& message)>;

  // `where` is the Redis address for logs (never with a password); `fraction` the fallback share, for the log.
  FleetStatus(std::string where, double fraction);

  void set_alert_hook(AlertHook hook);
  // From the Redis client: connected, or a failed attempt / lost connection with the reason.
  void on_connection(bool up, const std::string& why);
  bool shared() const;
  FleetHealth health() const;

 private:
  enum class Mode { starting, shared, fallback };
  std::string where_;
  double fraction_;
  mutable std::mutex mutex_;
  Mode mode_ = Mode::starting;
  FleetHealth health_;
  std::chrono::steady_clock::time_point fallback_since_{};
  AlertHook hook_;
};

}  // namespace smarthost::policy::redis
