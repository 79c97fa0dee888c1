// The in-memory cache: entries by key plus an index by expiry time for pruning.
#include "policy/memory_cache.h"

#include <algorithm>

namespace smarthost::policy {

MemoryCache::MemoryCache(size_t max_entries, const Clock& clock)
    : max_entries_(std::max<size_t>(1, max_entries)), clock_(clock) {}

void MemoryCache::erase_locked(std::map<std::string, Entry>::iterator it) {
  by_expiry_.erase({it->second.expires, it->first});
  entries_.erase(it);
}

void MemoryCache::drop_expired_locked(SteadyTime now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    auto it = entries_.find(by_expiry_.begin()->second);
    if (it != entries_.end()) {
      erase_locked(it);
    } else {
      by_expiry_.erase(by_expiry_.begin());
    }
  }
}

void MemoryCache::store_locked(std::string key, std::string value, SteadyTime expires) {
  auto it = entries_.find(key);
  if (it != entries_.end()) erase_locked(it);
  while (entries_.size() >= max_entries_ && !by_expiry_.empty()) {
    auto victim = entries_.find(by_expiry_.begin()->second);
    if (victim != entries_.end()) {
      erase_locked(victim);
    } else {
      by_expiry_.erase(by_expiry_.begin());
    }
  }
  by_expiry_.emplace(expires, key);
  entries_.emplace(std::move(key), Entry{std::move(value), expires});
}

std::optional<std::string> MemoryCache::get_now(const std::string& key) {
  std::lock_guard lock(mutex_);
  drop_expired_locked(clock_.now());
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.value;
}

void MemoryCache::put_now(std::string key, std::string value, std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.now();
  drop_expired_locked(now);
  store_locked(std::move(key), std::move(value), now + ttl);
}

std::optional<std::string> MemoryCache::put_if_absent_now(std::string key, std::string value,
                                                          std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  const SteadyTime now = clock_.now();
  drop_expired_locked(now);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second.value;
  store_locked(std::move(key), std::move(value), now + ttl);
  return std::nullopt;
}

void MemoryCache::erase_now(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) erase_locked(it);
}

size_t MemoryCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

boost::asio::awaitable<std::optional<std::string>> MemoryCache::get(std::string key) { co_return get_now(key); }

boost::asio::awaitable<void> MemoryCache::put(std::string key, std::string value, std::chrono::seconds ttl) {
  put_now(std::move(key), std::move(value), ttl);
  co_return;
}

boost::asio::awaitable<std::optional<std::string>> MemoryCache::put_if_absent(std::string key, std::string value,
                                                                              std::chrono::seconds ttl) {
  co_return put_if_absent_now(std::move(key), std::move(value), ttl);
}

boost::asio::awaitable<void> MemoryCache::erase(std::string key) {
  erase_now(key);
  co_return;
}

}  // namespace smarthost::policy
