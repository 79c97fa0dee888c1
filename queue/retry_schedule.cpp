// Retry delays from the configured schedule with a uniform jitter.
#include "queue/retry_schedule.h"

#include <algorithm>

namespace smarthost::queue {

RetrySchedule::RetrySchedule(std::vector<std::chrono::seconds> steps, double jitter, uint64_t seed)
    : steps_(std::move(steps)),
      jitter_(std::clamp(jitter, 0.0, 0.5)),
      random_(seed != 0 ? seed : std::random_device{}()) {
  if (steps_.empty()) steps_.push_back(std::chrono::seconds(300));
}

std::chrono::milliseconds RetrySchedule::delay_after(uint32_t failed_attempts) {
  size_t index = std::min<size_t>(std::max<uint32_t>(failed_attempts, 1) - 1, steps_.size() - 1);
  double base = std::chrono::duration<double, std::milli>(steps_[index]).count();
  double factor = 1.0;
  if (jitter_ > 0) factor += std::uniform_real_distribution<double>(-jitter_, jitter_)(random_);
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, base * factor)));
}

}  // namespace smarthost::queue
