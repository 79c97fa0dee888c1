// The queue's size for metrics and /status: messages per folder, bytes and the oldest message's age. Counting
// bytes and ages needs a scan of the spool, so the answer is cached for `max_age` (a few seconds), or longer for a
// queue so big that scanning it would take more than 5% of the time; the active count itself is always fresh.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>

#include "ops/relay_view.h"

namespace smarthost::ops {

struct QueueCounts {
  size_t active = 0;  // fresh, from the scheduler
  size_t delivering = 0;
  size_t held = 0;     // from the last scan
  size_t failed = 0;
  uint64_t bytes = 0;  // every message in the spool
  std::chrono::seconds oldest_age{0};  // of the oldest active or held message
  bool scanned = false;  // false: the scan failed or there is no queue; only active/delivering are meaningful
  size_t total() const { return active + held + failed; }
};

class QueueCensus {
 public:
  explicit QueueCensus(std::chrono::milliseconds max_age = std::chrono::seconds(5)) : max_age_(max_age) {}
  QueueCounts count(const RelayView& relay);

 private:
  std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> scanned_at_;
  std::chrono::nanoseconds scan_cost_{0};  // how long the last scan took
  QueueCounts last_;
};

}  // namespace smarthost::ops
