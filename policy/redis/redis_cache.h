// The `redis` cache provider: the [caching] store shared by every relay instance (dedup fingerprints, OAuth
// tokens), with cache_ttl expiry done by Redis. When Redis is down or slow, it answers from a local in-memory
// cache instead, so mail never waits for Redis; entries written then stay local. Callers add the key prefix.
#pragma once

#include <memory>

#include "policy/cache.h"
#include "policy/memory_cache.h"
#include "policy/redis/redis_client.h"

namespace smarthost::policy::redis {

class RedisCache final : public Cache {
 public:
  explicit RedisCache(std::shared_ptr<RedisClient> client, size_t local_entries = 200'000);

  boost::asio::awaitable<std::optional<std::string>> get(std::string key) override;
  boost::asio::awaitable<void> put(std::string key, std::string value, std::chrono::seconds ttl) override;
  // Atomic across the fleet while Redis answers (one Lua script); local otherwise.
  boost::asio::awaitable<std::optional<std::string>> put_if_absent(std::string key, std::string value,
                                                                   std::chrono::seconds ttl) override;
  boost::asio::awaitable<void> erase(std::string key) override;

  // Operations answered locally because Redis did not answer.
  uint64_t local_answers() const { return local_answers_.load(); }

 private:
  std::shared_ptr<RedisClient> client_;
  MemoryCache local_;
  std::atomic<uint64_t> local_answers_{0};
};

}  // namespace smarthost::policy::redis
