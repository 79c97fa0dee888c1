// A token bucket in its GCRA form: one "theoretical arrival time" instead of a token count, so a rate change or a
// reservation in the future costs nothing. Pure arithmetic on a time the caller passes in; not thread-safe.
// It does not wait, log or know what is being limited.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "policy/clock.h"

namespace smarthost::policy {

class TokenBucket {
 public:
  // Unlimited: every take succeeds, every reservation is due at once.
  TokenBucket() = default;
  // `rate` tokens per second (> 0), at most `burst` (>= 1) tokens at once. Starts full at `now`.
  TokenBucket(double rate, double burst, SteadyTime now);

  bool limited() const { return limited_; }
  double rate() const { return rate_; }    // tokens per second; 0 when unlimited
  double burst() const { return burst_; }  // 0 when unlimited

  // Takes one token when one is there now.
  bool try_take(SteadyTime now);
  // Takes the next token even if it is only there later, and returns when it is there (now or later). Successive
  // reservations are due in the order they were made.
  SteadyTime reserve(SteadyTime now);
  // When the next token will be there (now when one is there already). No side effect.
  SteadyTime next_free(SteadyTime now) const;
  // Tokens there now, in [0, burst].
  double tokens(SteadyTime now) const;
  // How long from now until `count` more tokens could have been taken, after the reservations already made.
  std::chrono::nanoseconds backlog(SteadyTime now, size_t count) const;
  // A new rate; the tokens owed so far are kept (scaled to the new rate), so slowing down never forgives a debt.
  void set_rate(double rate, SteadyTime now);
  // Takes every token there is now: the next one comes one interval from now.
  void empty(SteadyTime now);

 private:
  bool limited_ = false;
  double rate_ = 0;
  double burst_ = 0;
  std::chrono::nanoseconds interval_{0};   // time per token
  std::chrono::nanoseconds tolerance_{0};  // (burst - 1) * interval
  SteadyTime tat_{};                       // theoretical arrival time of the next token at the steady rate
};

}  // namespace smarthost::policy
