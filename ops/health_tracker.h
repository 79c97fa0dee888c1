// The verdicts of the upstream health checks, without I/O: per upstream the consecutive failed probes, whether it
// is in rotation, and the last result. `failure_threshold` consecutive failures take an upstream out; one success
// brings it back. Thread-safe; time is passed in.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace smarthost::ops {

struct UpstreamHealth {
  std::string name;
  bool healthy = true;            // in rotation as far as the probes are concerned
  bool checked = false;           // at least one probe has finished
  bool last_ok = true;
  std::string last_detail;        // the last probe's answer
  uint32_t consecutive_failures = 0;
  uint64_t probes_ok = 0, probes_failed = 0;
  double last_duration_seconds = 0;
  std::chrono::system_clock::time_point last_checked{};
  std::chrono::system_clock::time_point last_success{};
};

class HealthTracker {
 public:
  explicit HealthTracker(uint32_t failure_threshold) : threshold_(failure_threshold == 0 ? 1 : failure_threshold) {}

  // Sets the upstreams (router order); a name seen before keeps its record.
  void set_upstreams(const std::vector<std::string>& names);
  // One probe's result. Returns the new rotation state when this result changed it.
  std::optional<bool> record(size_t index, bool ok, std::string detail, std::chrono::duration<double> took,
                             std::chrono::system_clock::time_point now);

  std::vector<UpstreamHealth> snapshot() const;
  uint32_t failure_threshold() const { return threshold_; }

 private:
  uint32_t threshold_;
  mutable std::mutex mutex_;
  std::vector<UpstreamHealth> upstreams_;
};

}  // namespace smarthost::ops
