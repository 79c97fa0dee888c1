// The wall clock the scheduler reads, injected so tests can move time without sleeping.
// Only "now"; waiting is done with Asio timers for the distance to the next due time.
#pragma once

#include <chrono>

namespace smarthost::queue {

class Clock {
 public:
  virtual ~Clock() = default;
  // Must be cheap and thread-safe.
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace smarthost::queue
