// When to try a temporarily failed message again: queue.retry_schedule, the last step repeating, spread by a
// random jitter so that messages that failed together do not all come back together. No I/O, not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace smarthost::queue {

class RetrySchedule {
 public:
  // `jitter` is a fraction: 0.1 spreads each delay over +-10%. `seed` 0 seeds from the system.
  RetrySchedule(std::vector<std::chrono::seconds> steps, double jitter, uint64_t seed);

  // The wait after the n-th failed attempt (n >= 1): steps[n-1], or the last step once they run out.
  std::chrono::milliseconds delay_after(uint32_t failed_attempts);

 private:
  std::vector<std::chrono::seconds> steps_;
  double jitter_;
  std::mt19937_64 random_;
};

}  // namespace smarthost::queue
