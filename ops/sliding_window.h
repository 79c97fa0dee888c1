// Delivery attempts over a sliding time window (default the last 5 minutes) in fixed time slots: per slot the
// attempts, the errors and a log-scale latency histogram, so the window's error rate and p95 latency come without
// keeping samples. Memory is fixed. Time is passed in; thread-safe (one short lock per call).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace smarthost::ops {

class SlidingWindow {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr size_t kLatencyBuckets = 64;  // 1 ms to ~21 min, each 25% wider than the one before

  explicit SlidingWindow(std::chrono::seconds span = std::chrono::seconds(300), size_t slots = 30);

  // One attempt: `error` when it failed for reasons of the upstream; latency when it was measured.
  void record(TimePoint now, bool error, std::optional<double> latency_ms);

  struct Summary {
    uint64_t attempts = 0;
    uint64_t errors = 0;
    double error_rate = 0;           // errors / attempts; 0 without attempts
    std::optional<double> p95_ms;    // an upper estimate (the bucket's bound, at most 25% high); none without samples
  };
  Summary summary(TimePoint now) const;
  std::chrono::seconds span() const { return span_; }

  // The upper bound in ms of latency bucket i (exposed for tests).
  static double bucket_bound(size_t i);

 private:
  struct Slot {
    int64_t epoch = -1;  // which slot-length interval since the clock's epoch this slot holds
    uint64_t attempts = 0;
    uint64_t errors = 0;
    std::array<uint32_t, kLatencyBuckets> latency{};
  };
  int64_t epoch_of(TimePoint now) const;

  std::chrono::seconds span_;
  std::chrono::nanoseconds slot_length_;
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
};

}  // namespace smarthost::ops
