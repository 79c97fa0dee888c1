// The sliding delivery window (see sliding_window.h).
#include "ops/sliding_window.h"

#include <algorithm>
#include <cmath>

namespace smarthost::ops {

namespace {
constexpr double kGrowth = 1.25;
}

SlidingWindow::SlidingWindow(std::chrono::seconds span, size_t slots)
    : span_(std::max(span, std::chrono::seconds(1))),
      slot_length_(std::chrono::duration_cast<std::chrono::nanoseconds>(span_) /
                   static_cast<int64_t>(std::max<size_t>(slots, 1))),
      slots_(std::max<size_t>(slots, 1)) {}

double SlidingWindow::bucket_bound(size_t i) { return std::pow(kGrowth, static_cast<double>(i)); }

int64_t SlidingWindow::epoch_of(TimePoint now) const {
  return static_cast<int64_t>(now.time_since_epoch() / slot_length_);
}

void SlidingWindow::record(TimePoint now, bool error, std::optional<double> latency_ms) {
  int64_t epoch = epoch_of(now);
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[static_cast<size_t>(epoch % static_cast<int64_t>(slots_.size()))];
  if (slot.epoch != epoch) slot = Slot{epoch};
  ++slot.attempts;
  if (error) ++slot.errors;
  if (latency_ms) {
    double ms = std::max(*latency_ms, 0.0);
    size_t i = ms <= 1 ? 0 : static_cast<size_t>(std::ceil(std::log(ms) / std::log(kGrowth)));
    // ceil(log) can land one short through rounding: make sure the bound covers the value.
    while (i < kLatencyBuckets - 1 && bucket_bound(i) < ms) ++i;
    ++slot.latency[std::min(i, kLatencyBuckets - 1)];
  }
}

SlidingWindow::Summary SlidingWindow::summary(TimePoint now) const {
  int64_t newest = epoch_of(now);
  int64_t oldest = newest - static_cast<int64_t>(slots_.size()) + 1;
  Summary s;
  std::array<uint64_t, kLatencyBuckets> latency{};
  {
    std::lock_guard lock(mutex_);
    for (const auto& slot : slots_) {
      if (slot.epoch < oldest || slot.epoch > newest) continue;
      s.attempts += slot.attempts;
      s.errors += slot.errors;
      for (size_t i = 0; i < kLatencyBuckets; ++i) latency[i] += slot.latency[i];
    }
  }
  if (s.attempts > 0) s.error_rate = static_cast<double>(s.errors) / static_cast<double>(s.attempts);
  uint64_t samples = 0;
  for (auto n : latency) samples += n;
  if (samples > 0) {
    // The smallest bucket bound at or above 95% of the samples.
    auto wanted = static_cast<uint64_t>(std::ceil(0.95 * static_cast<double>(samples)));
    uint64_t running = 0;
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      running += latency[i];
      if (running >= wanted) {
        s.p95_ms = bucket_bound(i);
        break;
      }
    }
  }
  return s;
}

}  // namespace smarthost::ops
