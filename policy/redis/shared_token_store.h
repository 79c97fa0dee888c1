// Fleet mode's OAuth token sharing: upstream/smtp's SharedTokenStore over the [caching] store (Redis, with its
// local fallback), under cache_key_prefix. Tokens live in Redis until shortly before they expire.
#pragma once

#include <memory>
#include <string>

#include "policy/cache.h"
#include "upstream/smtp/token_source.h"

namespace smarthost::policy::redis {

class SharedTokenCache final : public upstream::smtp::SharedTokenStore {
 public:
  // `cache` must outlive this object.
  SharedTokenCache(Cache& cache, std::string key_prefix) : cache_(cache), prefix_(std::move(key_prefix)) {}

  boost::asio::awaitable<std::optional<std::string>> load(std::string key) override {
    auto op = cache_.get(prefix_ + key);
    std::optional<std::string> value = co_await std::move(op);
    co_return value;
  }
  boost::asio::awaitable<void> save(std::string key, std::string value, std::chrono::seconds ttl) override {
    auto op = cache_.put(prefix_ + key, std::move(value), ttl);
    co_await std::move(op);
  }

 private:
  Cache& cache_;
  std::string prefix_;
};

}  // namespace smarthost::policy::redis
