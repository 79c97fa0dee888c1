// The sending limit of one upstream: one token bucket from rate_limit per rate_limit_window, max_send_rate and
// burst_limit; adaptive rate (lower on throttling answers, higher after sustained success, within min/max) and a
// pause until a Retry-After / X-RateLimit-Reset time. Arithmetic on a caller-given time; not thread-safe (the
// router locks it); it never waits itself.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "conf/config.h"
#include "policy/clock.h"
#include "policy/token_bucket.h"
#include "upstream/transport.h"

namespace smarthost::policy {

// What metrics and `smarthost status` show of a limiter.
struct LimiterSnapshot {
  bool limited = false;       // false: no rate configured (and not lowered by throttling)
  double rate_per_second = 0;  // current rate; 0 when unlimited
  double burst = 0;
  double tokens = 0;               // available now
  double paused_seconds = 0;       // > 0 while paused by Retry-After / X-RateLimit-Reset
  uint64_t throttled = 0;          // throttling answers seen
  bool queue_on_limit = true;
};

class SendLimiter {
 public:
  // Successes needed, and time since the last change, before the adaptive rate goes up again.
  static constexpr uint32_t kRaiseAfterSuccesses = 10;
  static constexpr std::chrono::seconds kRaiseAfterTime{5};
  // The longest pause a Retry-After or reset time may impose.
  static constexpr std::chrono::hours kLongestPause{1};

  SendLimiter(const conf::UpstreamOptions& options, SteadyTime now);

  // Reserves a send slot and returns when it is due (now or later). When the slot would be later than
  // now + max_wait (a pause included), reserves nothing and returns nullopt.
  std::optional<SteadyTime> reserve(SteadyTime now, std::chrono::nanoseconds max_wait);
  // When a message could go at the earliest (the pause and the next token), without reserving.
  SteadyTime next_free(SteadyTime now) const;
  bool paused(SteadyTime now) const { return now < paused_until_; }
  SteadyTime paused_until() const { return paused_until_; }

  // Feeds one delivery attempt's answer: throttling lowers the adaptive rate, success raises it after a while,
  // retry_after pauses the upstream (capped at kLongestPause).
  void on_result(const upstream::DeliveryResult& result, SteadyTime now, WallTime wall_now);
  void pause_until(SteadyTime until, SteadyTime now);

  // How long from now until `count` more messages could have gone (reservations and pause included).
  std::chrono::nanoseconds backlog(SteadyTime now, size_t count) const;
  bool queue_on_limit() const { return queue_on_limit_; }
  std::chrono::seconds timeout() const { return timeout_; }
  bool limited() const { return bucket_.limited(); }
  double rate() const { return bucket_.rate(); }  // per second; 0 when unlimited

  LimiterSnapshot snapshot(SteadyTime now) const;

 private:
  void lower(SteadyTime now);
  void raise(SteadyTime now);
  void note_send(SteadyTime now);

  TokenBucket bucket_;
  double burst_ = 1;
  bool queue_on_limit_ = true;
  std::chrono::seconds timeout_{30};
  bool adaptive_ = false;
  double factor_ = 0.1;
  double window_ = 3600;     // rate_limit_window in seconds
  double base_rate_ = 0;     // the configured rate per second; 0 = unlimited
  double min_rate_ = 0;      // per second; 0 = no floor given
  double max_rate_ = 0;      // per second; 0 = no ceiling given
  double observed_rate_ = 0;  // deliveries per second, exponentially decayed (for a first throttle when unlimited)
  SteadyTime observed_at_{};
  uint32_t successes_ = 0;  // since the last rate change
  SteadyTime changed_at_{};
  SteadyTime paused_until_{};
  uint64_t throttled_ = 0;
};

}  // namespace smarthost::policy
