// Time as policy/ sees it: a steady "now" for limits and breakers, the wall clock for Retry-After dates, and an
// awaitable sleep. Injected everywhere so unit tests move a fake clock instead of sleeping.
// It does not schedule anything itself; callers decide what to wait for.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>

namespace smarthost::policy {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Both must be cheap and thread-safe.
  virtual SteadyTime now() const = 0;
  virtual WallTime wall_now() const = 0;
  // Completes at `until` (at once when it has passed). Runs on the calling coroutine's executor.
  virtual boost::asio::awaitable<void> sleep_until(SteadyTime until) const = 0;
};

// The real clocks and an Asio steady_timer.
class SystemClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  boost::asio::awaitable<void> sleep_until(SteadyTime until) const override;
};

// One process-wide SystemClock, for callers that take a `const Clock&` and have nothing better.
const Clock& system_clock();

}  // namespace smarthost::policy
