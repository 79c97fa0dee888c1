// The [caching] store: short-lived values by key, shared by whoever needs them (message fingerprints for dedup,
// OAuth tokens). Behind this interface so the `redis` provider can share it across relay instances later.
// Implementations: memory_cache.h. Callers add cache_key_prefix themselves.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace smarthost::policy {

class Cache {
 public:
  virtual ~Cache() = default;
  // The live value under `key`, or nullopt.
  virtual boost::asio::awaitable<std::optional<std::string>> get(std::string key) = 0;
  // Stores `value` under `key` for `ttl`, replacing what was there.
  virtual boost::asio::awaitable<void> put(std::string key, std::string value, std::chrono::seconds ttl) = 0;
  // Stores `value` only when `key` holds no live value; returns the value already there (nothing stored), or
  // nullopt when it stored. Atomic: of two racing callers exactly one gets nullopt.
  virtual boost::asio::awaitable<std::optional<std::string>> put_if_absent(std::string key, std::string value,
                                                                           std::chrono::seconds ttl) = 0;
  virtual boost::asio::awaitable<void> erase(std::string key) = 0;
};

}  // namespace smarthost::policy
