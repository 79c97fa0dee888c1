// Per-client token buckets keyed "m|ip|192.0.2.1", "r|user|alice" and so on.
#include "policy/client_limits.h"

namespace smarthost::policy {

bool ClientLimits::enabled() const {
  return settings_.messages_per_minute_per_ip || settings_.messages_per_minute_per_user ||
         settings_.recipients_per_minute_per_ip || settings_.recipients_per_minute_per_user;
}

size_t ClientLimits::tracked() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

void ClientLimits::prune(SteadyTime now) {
  // Idle clients first (a full bucket is the same as no bucket), then anything, so memory stays capped.
  std::erase_if(buckets_, [&](const auto& kv) { return kv.second.tokens(now) >= kv.second.burst(); });
  while (buckets_.size() + 2 > settings_.max_tracked && !buckets_.empty()) buckets_.erase(buckets_.begin());
}

TokenBucket* ClientLimits::bucket(std::string key, uint32_t per_minute, SteadyTime now) {
  if (per_minute == 0) return nullptr;
  auto it = buckets_.find(key);
  if (it != buckets_.end()) return &it->second;
  return &buckets_.emplace(std::move(key), TokenBucket(per_minute / 60.0, per_minute, now)).first->second;
}

bool ClientLimits::take(Kind kind, std::string_view ip, std::string_view user, SteadyTime now) {
  const bool message = kind == Kind::message;
  const uint32_t per_ip = message ? settings_.messages_per_minute_per_ip : settings_.recipients_per_minute_per_ip;
  const uint32_t per_user = message ? settings_.messages_per_minute_per_user : settings_.recipients_per_minute_per_user;
  if (per_ip == 0 && per_user == 0) return true;
  const std::string prefix = message ? "m|" : "r|";
  std::lock_guard lock(mutex_);
  // Room for the two keys below first: pruning later could drop a bucket already looked up.
  if (buckets_.size() + 2 > settings_.max_tracked) prune(now);
  TokenBucket* by_ip = ip == "unix" ? nullptr : bucket(prefix + "ip|" + std::string(ip), per_ip, now);
  TokenBucket* by_user = user.empty() ? nullptr : bucket(prefix + "user|" + std::string(user), per_user, now);
  // Both must have a token before either is taken.
  if (by_ip && by_ip->next_free(now) > now) return false;
  if (by_user && by_user->next_free(now) > now) return false;
  if (by_ip) by_ip->try_take(now);
  if (by_user) by_user->try_take(now);
  return true;
}

}  // namespace smarthost::policy
