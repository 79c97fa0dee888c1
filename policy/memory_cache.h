// The `memory` cache provider: a map with expiry times, thread-safe, capped at `max_entries` (the soonest to
// expire go first when full). Lost on restart; not shared between relay instances (that is what `redis` is for).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "policy/cache.h"
#include "policy/clock.h"

namespace smarthost::policy {

class MemoryCache final : public Cache {
 public:
  explicit MemoryCache(size_t max_entries = 200'000, const Clock& clock = system_clock());

  boost::asio::awaitable<std::optional<std::string>> get(std::string key) override;
  boost::asio::awaitable<void> put(std::string key, std::string value, std::chrono::seconds ttl) override;
  boost::asio::awaitable<std::optional<std::string>> put_if_absent(std::string key, std::string value,
                                                                   std::chrono::seconds ttl) override;
  boost::asio::awaitable<void> erase(std::string key) override;

  // The same operations without a coroutine, for synchronous callers and tests.
  std::optional<std::string> get_now(const std::string& key);
  void put_now(std::string key, std::string value, std::chrono::seconds ttl);
  std::optional<std::string> put_if_absent_now(std::string key, std::string value, std::chrono::seconds ttl);
  void erase_now(const std::string& key);
  size_t size() const;

 private:
  struct Entry {
    std::string value;
    SteadyTime expires;
  };
  void drop_expired_locked(SteadyTime now);
  void store_locked(std::string key, std::string value, SteadyTime expires);
  void erase_locked(std::map<std::string, Entry>::iterator it);

  size_t max_entries_;
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::set<std::pair<SteadyTime, std::string>> by_expiry_;
};

}  // namespace smarthost::policy
