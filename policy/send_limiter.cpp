// One upstream's limiter: the configured rate as a token bucket, moved by throttling answers (adaptive rate) and
// held back by Retry-After pauses.
#include "policy/send_limiter.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace smarthost::policy {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

constexpr double kInfinite = std::numeric_limits<double>::infinity();
// Time constant of the observed delivery rate (used only for a first throttle on an unlimited upstream).
constexpr double kObservedTau = 10.0;

}  // namespace

SendLimiter::SendLimiter(const conf::UpstreamOptions& o, SteadyTime now)
    : queue_on_limit_(o.queue_on_limit),
      timeout_(o.timeout),
      adaptive_(o.adaptive_rate_limiting),
      factor_(std::clamp(o.rate_adjustment_factor, 0.001, 0.999)),
      window_(std::max<double>(1.0, static_cast<double>(o.rate_limit_window.count()))),
      observed_at_(now),
      changed_at_(now),
      paused_until_(now) {
  double by_window = o.rate_limit ? *o.rate_limit / window_ : kInfinite;
  double by_second = o.max_send_rate && *o.max_send_rate > 0 ? *o.max_send_rate : kInfinite;
  double rate = std::min(by_window, by_second);
  base_rate_ = std::isfinite(rate) ? rate : 0;
  if (o.min_rate_limit) min_rate_ = *o.min_rate_limit / window_;
  if (o.max_rate_limit) max_rate_ = *o.max_rate_limit / window_;
  if (adaptive_) {
    // The adaptive rate starts at the configured rate (or the ceiling when none), kept inside [min, max].
    if (!std::isfinite(rate) && max_rate_ > 0) rate = max_rate_;
    if (std::isfinite(rate)) {
      if (max_rate_ > 0) rate = std::min(rate, max_rate_);
      if (min_rate_ > 0) rate = std::max(rate, min_rate_);
    }
  }
  // burst_limit when given; otherwise one second's worth under max_send_rate, else the whole window's allowance.
  if (o.burst_limit) {
    burst_ = *o.burst_limit;
  } else if (o.max_send_rate) {
    burst_ = std::max(1.0, std::floor(*o.max_send_rate));
  } else if (o.rate_limit) {
    burst_ = *o.rate_limit;
  } else {
    burst_ = std::max(1.0, std::isfinite(rate) ? std::floor(rate) : 1.0);
  }
  if (std::isfinite(rate)) bucket_ = TokenBucket(rate, burst_, now);
}

std::optional<SteadyTime> SendLimiter::reserve(SteadyTime now, nanoseconds max_wait) {
  SteadyTime earliest = std::max(paused_until_, bucket_.next_free(now));
  if (earliest - now > max_wait) return std::nullopt;
  return std::max(paused_until_, bucket_.reserve(now));
}

SteadyTime SendLimiter::next_free(SteadyTime now) const { return std::max(paused_until_, bucket_.next_free(now)); }

nanoseconds SendLimiter::backlog(SteadyTime now, size_t count) const {
  nanoseconds pause = paused_until_ > now ? duration_cast<nanoseconds>(paused_until_ - now) : nanoseconds(0);
  return std::max(pause, bucket_.backlog(now, count));
}

void SendLimiter::note_send(SteadyTime now) {
  double dt = std::chrono::duration<double>(now - observed_at_).count();
  observed_rate_ = observed_rate_ * std::exp(-std::max(0.0, dt) / kObservedTau) + 1.0 / kObservedTau;
  observed_at_ = now;
}

void SendLimiter::lower(SteadyTime now) {
  double floor_rate = min_rate_ > 0 ? min_rate_ : 1.0 / window_;
  double from;
  if (bucket_.limited()) {
    from = bucket_.rate();
  } else {
    double dt = std::chrono::duration<double>(now - observed_at_).count();
    from = observed_rate_ * std::exp(-std::max(0.0, dt) / kObservedTau);
    if (from <= 0) from = max_rate_ > 0 ? max_rate_ : floor_rate;
  }
  double rate = std::max(floor_rate, from * (1.0 - factor_));
  if (max_rate_ > 0) rate = std::min(rate, max_rate_);
  if (bucket_.limited()) {
    bucket_.set_rate(rate, now);
  } else {
    bucket_ = TokenBucket(rate, burst_, now);
  }
  // The upstream said "too fast" now: no burst right after it.
  bucket_.empty(now);
  changed_at_ = now;
  successes_ = 0;
}

void SendLimiter::raise(SteadyTime now) {
  if (!bucket_.limited()) return;
  double ceiling = max_rate_ > 0 ? max_rate_ : (base_rate_ > 0 ? base_rate_ : kInfinite);
  if (bucket_.rate() >= ceiling) return;
  bucket_.set_rate(std::min(ceiling, bucket_.rate() * (1.0 + factor_)), now);
  changed_at_ = now;
  successes_ = 0;
}

void SendLimiter::on_result(const upstream::DeliveryResult& result, SteadyTime now, WallTime wall_now) {
  if (result.throttled) {
    ++throttled_;
    if (adaptive_) lower(now);
  } else if (result.outcome == upstream::Outcome::delivered) {
    note_send(now);
    ++successes_;
    if (adaptive_ && successes_ >= kRaiseAfterSuccesses && now - changed_at_ >= kRaiseAfterTime) raise(now);
  }
  if (result.retry_after && *result.retry_after > wall_now) {
    auto wait = std::min<nanoseconds>(duration_cast<nanoseconds>(*result.retry_after - wall_now), kLongestPause);
    pause_until(now + wait, now);
  }
}

void SendLimiter::pause_until(SteadyTime until, SteadyTime now) {
  until = std::min(until, now + duration_cast<SteadyTime::duration>(kLongestPause));
  if (until > paused_until_) paused_until_ = until;
}

LimiterSnapshot SendLimiter::snapshot(SteadyTime now) const {
  LimiterSnapshot s;
  s.limited = bucket_.limited();
  s.rate_per_second = bucket_.rate();
  s.burst = bucket_.burst();
  s.tokens = bucket_.tokens(now);
  s.paused_seconds = paused_until_ > now ? std::chrono::duration<double>(paused_until_ - now).count() : 0.0;
  s.throttled = throttled_;
  s.queue_on_limit = queue_on_limit_;
  return s;
}

}  // namespace smarthost::policy
