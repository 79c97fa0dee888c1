// Per-client sending limits: messages and recipients per minute, per client IP and per authenticated user, as
// one token bucket per key (GCRA: a burst of a minute's allowance, then the steady rate). Thread-safe; memory is
// capped at `max_tracked` keys. It only counts; the access policy decides the replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policy/clock.h"
#include "policy/token_bucket.h"

namespace smarthost::policy {

struct ClientLimitSettings {
  uint32_t messages_per_minute_per_ip = 0;  // 0 = no limit
  uint32_t messages_per_minute_per_user = 0;
  uint32_t recipients_per_minute_per_ip = 0;
  uint32_t recipients_per_minute_per_user = 0;
  size_t max_tracked = 100'000;  // keys kept at once; idle (full) buckets are dropped first
};

class ClientLimits {
 public:
  enum class Kind { message, recipient };

  explicit ClientLimits(ClientLimitSettings settings) : settings_(settings) {}

  // Counts one message (at MAIL) or one recipient (at RCPT) for the client's IP and, when `user` is not empty,
  // for the user. Returns false, counting nothing, when either is over its limit. "unix" clients are not limited
  // by IP.
  bool take(Kind kind, std::string_view ip, std::string_view user, SteadyTime now);
  bool enabled() const;
  size_t tracked() const;

 private:
  TokenBucket* bucket(std::string key, uint32_t per_minute, SteadyTime now);
  void prune(SteadyTime now);

  ClientLimitSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

}  // namespace smarthost::policy
