// GCRA arithmetic: a token is there when tat - tolerance <= now; taking one moves tat one interval on.
#include "policy/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace smarthost::policy {
namespace {

using std::chrono::nanoseconds;

nanoseconds interval_of(double rate) {
  // Clamped to [1 ns, 100 years] so the arithmetic below cannot overflow.
  double ns = 1e9 / rate;
  ns = std::clamp(ns, 1.0, 100.0 * 365 * 24 * 3600 * 1e9);
  return nanoseconds(static_cast<int64_t>(std::llround(ns)));
}

}  // namespace

TokenBucket::TokenBucket(double rate, double burst, SteadyTime now)
    : limited_(true), rate_(rate), burst_(std::max(1.0, burst)), tat_(now) {
  interval_ = interval_of(rate_);
  tolerance_ = nanoseconds(static_cast<int64_t>(std::llround((burst_ - 1.0) * static_cast<double>(interval_.count()))));
}

bool TokenBucket::try_take(SteadyTime now) {
  if (!limited_) return true;
  if (tat_ - tolerance_ > now) return false;
  tat_ = std::max(tat_, now) + interval_;
  return true;
}

SteadyTime TokenBucket::reserve(SteadyTime now) {
  if (!limited_) return now;
  SteadyTime due = std::max(now, tat_ - tolerance_);
  tat_ = std::max(tat_, now) + interval_;
  return due;
}

SteadyTime TokenBucket::next_free(SteadyTime now) const {
  if (!limited_) return now;
  return std::max(now, tat_ - tolerance_);
}

double TokenBucket::tokens(SteadyTime now) const {
  if (!limited_) return 0;
  if (tat_ <= now) return burst_;
  double owed = static_cast<double>((tat_ - now).count()) / static_cast<double>(interval_.count());
  return std::clamp(burst_ - owed, 0.0, burst_);
}

nanoseconds TokenBucket::backlog(SteadyTime now, size_t count) const {
  if (!limited_ || count == 0) return nanoseconds(0);
  // The count-th further reservation would be due at max(now, tat) + (count - 1) * interval - tolerance.
  SteadyTime due = std::max(now, tat_) + interval_ * static_cast<int64_t>(count - 1) - tolerance_;
  return std::max(nanoseconds(0), due - now);
}

void TokenBucket::set_rate(double rate, SteadyTime now) {
  if (!limited_ || rate <= 0) return;
  double owed = tat_ > now ? static_cast<double>((tat_ - now).count()) / static_cast<double>(interval_.count()) : 0.0;
  rate_ = rate;
  interval_ = interval_of(rate_);
  tolerance_ = nanoseconds(static_cast<int64_t>(std::llround((burst_ - 1.0) * static_cast<double>(interval_.count()))));
  tat_ = now + nanoseconds(static_cast<int64_t>(std::llround(owed * static_cast<double>(interval_.count()))));
}

void TokenBucket::empty(SteadyTime now) {
  if (!limited_) return;
  tat_ = std::max(tat_, now + tolerance_ + interval_);
}

}  // namespace smarthost::policy
