// The cached queue scan (see queue_census.h).
#include "ops/queue_census.h"

#include <algorithm>

namespace smarthost::ops {

QueueCounts QueueCensus::count(const RelayView& relay) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (relay.queue_tally && (!scanned_at_ || now - *scanned_at_ >= std::max<std::chrono::nanoseconds>(max_age_, scan_cost_ * 20))) {
    std::error_code error;
    queue::QueueTally tally = relay.queue_tally(error);
    // A big queue takes long to scan: scan it at most 5% of the time.
    scan_cost_ = std::chrono::steady_clock::now() - now;
    QueueCounts scan;
    if (!error) {
      scan.scanned = true;
      scan.held = tally.held;
      scan.failed = tally.failed;
      scan.bytes = tally.bytes;
      scan.oldest_age = tally.oldest_age;
    }
    last_ = scan;
    scanned_at_ = now;
  }
  QueueCounts out = last_;
  // The oldest message kept ageing since the scan.
  if (out.oldest_age.count() > 0 && scanned_at_)
    out.oldest_age += std::chrono::duration_cast<std::chrono::seconds>(now - *scanned_at_);
  out.active = relay.queued ? relay.queued() : 0;
  out.delivering = relay.delivering ? relay.delivering() : 0;
  return out;
}

}  // namespace smarthost::ops
