// RedisCache against a real redis-server: values and TTLs in Redis, put_if_absent shared by two instances (the
// dedup claim), and answers from the local cache while Redis is down.
#include "policy/redis/redis_cache.h"

#include <gtest/gtest.h>

#include "tests/support/redis_server.h"
#include "tests/unit/policy/redis/redis_test_loop.h"

namespace smarthost::policy::redis {
namespace {

using namespace std::chrono_literals;
using smarthost::test::RedisServer;
using test::eventually;
using test::Loop;

#define REQUIRE_REDIS() \
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed"

std::shared_ptr<RedisClient> connect(Loop& loop, const RedisServer& server) {
  std::string error;
  RedisClientSettings s;
  s.endpoint = *parse_redis_url(server.url(), error);
  s.timeout = 300ms;
  s.min_backoff = 20ms;
  s.max_backoff = 200ms;
  auto client = RedisClient::create(loop.executor(), s);
  client->start();
  return client;
}

boost::asio::awaitable<std::optional<std::string>> claim(RedisCache* cache, std::string key, std::string value) {
  auto op = cache->put_if_absent(std::move(key), std::move(value), std::chrono::seconds(60));
  std::optional<std::string> earlier = co_await std::move(op);
  co_return earlier;
}

boost::asio::awaitable<std::optional<std::string>> fetch(RedisCache* cache, std::string key) {
  auto op = cache->get(std::move(key));
  std::optional<std::string> value = co_await std::move(op);
  co_return value;
}

boost::asio::awaitable<bool> store(RedisCache* cache, std::string key, std::string value, std::chrono::seconds ttl) {
  auto op = cache->put(std::move(key), std::move(value), ttl);
  co_await std::move(op);
  co_return true;
}

boost::asio::awaitable<bool> forget(RedisCache* cache, std::string key) {
  auto op = cache->erase(std::move(key));
  co_await std::move(op);
  co_return true;
}

TEST(RedisCache, ValuesLiveInRedisWithTheirTtl) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = connect(loop, server);
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  RedisCache cache(client);
  loop.sync(store(&cache, "p:token", "abc", 120s));
  EXPECT_EQ(loop.sync(fetch(&cache, "p:token")), "abc");
  EXPECT_NE(server.cli({"GET", "p:token"}).find("abc"), std::string::npos);
  const int ttl = std::atoi(server.cli({"TTL", "p:token"}).c_str());
  EXPECT_GT(ttl, 100);
  EXPECT_LE(ttl, 120);
  loop.sync(forget(&cache, "p:token"));
  EXPECT_EQ(loop.sync(fetch(&cache, "p:token")), std::nullopt);
  EXPECT_EQ(cache.local_answers(), 0u);
}

TEST(RedisCache, TheFirstClaimWinsAcrossInstances) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto ca = connect(loop, server), cb = connect(loop, server);
  ASSERT_TRUE(eventually([&] { return ca->connected() && cb->connected(); }));
  RedisCache a(ca), b(cb);
  EXPECT_EQ(loop.sync(claim(&a, "p:dedup:f1", "qid-A")), std::nullopt) << "A stores its claim";
  EXPECT_EQ(loop.sync(claim(&b, "p:dedup:f1", "qid-B")), "qid-A") << "B finds A's";
  EXPECT_EQ(loop.sync(claim(&b, "p:dedup:f2", "qid-B")), std::nullopt);
}

TEST(RedisCache, AnswersLocallyWhileRedisIsDown) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = connect(loop, server);
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  RedisCache cache(client);
  server.kill();
  ASSERT_TRUE(eventually([&] { return !client->connected(); }));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.sync(claim(&cache, "p:dedup:f1", "qid-1")), std::nullopt);
  EXPECT_EQ(loop.sync(claim(&cache, "p:dedup:f1", "qid-2")), "qid-1") << "dedup still works on one instance";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms) << "no waiting for Redis";
  EXPECT_GE(cache.local_answers(), 2u);
}

}  // namespace
}  // namespace smarthost::policy::redis
