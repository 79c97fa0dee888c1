// The cached queue scan (see queue_census.h).
#include "ops/queue_census.h"

#include <algorithm>

namespace smarthost::ops {

QueueCounts QueueCensus::count(const RelayView& relay) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (relay.queue_list && (!scanned_at_ || now - *scanned_at_ >= std::max<std::chrono::nanoseconds>(max_age_, scan_cost_ * 20))) {
    std::error_code error;
    auto entries = relay.queue_list(error);
    // A big queue takes long to scan: scan it at most 5% of the time.
    scan_cost_ = std::chrono::steady_clock::now() - now;
    QueueCounts scan;
    if (!error) {
      scan.scanned = true;
      for (const auto& e : entries) {
        scan.bytes += e.size;
        if (e.folder == queue::Folder::hold) ++scan.held;
        if (e.folder == queue::Folder::failed) ++scan.failed;
        if (e.folder != queue::Folder::failed) scan.oldest_age = std::max(scan.oldest_age, e.age);
      }
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
