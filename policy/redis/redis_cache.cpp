// Cache calls as Redis commands (GET, SET EX, DEL, and a claim script for put_if_absent); any call without a reply
// is answered by the local cache.
#include "policy/redis/redis_cache.h"

#include <algorithm>

#include "policy/redis/fleet_scripts.h"

namespace smarthost::policy::redis {

RedisCache::RedisCache(std::shared_ptr<RedisClient> client, size_t local_entries)
    : client_(std::move(client)), local_(local_entries) {}

boost::asio::awaitable<std::optional<std::string>> RedisCache::get(std::string key) {
  std::vector<std::string> command{"GET", key};
  auto op = client_->call(std::move(command));
  RedisResult r = co_await std::move(op);
  if (r.ok()) {
    if (r.reply.type == RedisReply::Type::string) co_return r.reply.text;
    co_return std::nullopt;
  }
  ++local_answers_;
  co_return local_.get_now(key);
}

boost::asio::awaitable<void> RedisCache::put(std::string key, std::string value, std::chrono::seconds ttl) {
  const auto seconds = std::max<int64_t>(1, ttl.count());
  std::vector<std::string> command{"SET", key, value, "EX", std::to_string(seconds)};
  auto op = client_->call(std::move(command));
  RedisResult r = co_await std::move(op);
  if (!r.ok()) {
    ++local_answers_;
    local_.put_now(std::move(key), std::move(value), ttl);
  }
}

boost::asio::awaitable<std::optional<std::string>> RedisCache::put_if_absent(std::string key, std::string value,
                                                                             std::chrono::seconds ttl) {
  const auto seconds = std::max<int64_t>(1, ttl.count());
  std::vector<std::string> keys{key};
  std::vector<std::string> args{value, std::to_string(seconds)};
  auto op = client_->eval(claim_script(), std::move(keys), std::move(args));
  RedisResult r = co_await std::move(op);
  if (r.ok()) {
    if (r.reply.type == RedisReply::Type::string) co_return r.reply.text;
    co_return std::nullopt;
  }
  ++local_answers_;
  co_return local_.put_if_absent_now(std::move(key), std::move(value), ttl);
}

boost::asio::awaitable<void> RedisCache::erase(std::string key) {
  local_.erase_now(key);
  std::vector<std::string> command{"DEL", key};
  auto op = client_->call(std::move(command));
  RedisResult ignored = co_await std::move(op);
  (void)ignored;  // the entry expires with its TTL anyway
}

}  // namespace smarthost::policy::redis
