// RedisClient against a real redis-server: commands and pipelining, EVALSHA with a reload after SCRIPT FLUSH, a
// timeout on a stopped (SIGSTOP) server that takes the connection down, fast failure while down, reconnection
// after a restart, AUTH and SELECT, unix sockets and TLS.
#include "policy/redis/redis_client.h"

#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>

#include <mutex>

#include "tests/support/redis_server.h"
#include "tests/unit/policy/redis/redis_test_loop.h"
#include "upstream/smtp/tls_context.h"

namespace smarthost::policy::redis {
namespace {

using namespace std::chrono_literals;
using smarthost::test::RedisServer;
using test::eventually;
using test::Loop;

#define REQUIRE_REDIS() \
  if (!RedisServer::available()) GTEST_SKIP() << "redis-server is not installed"

std::shared_ptr<RedisClient> client_for(Loop& loop, const std::string& url, std::chrono::milliseconds timeout = 500ms) {
  std::string error;
  auto endpoint = parse_redis_url(url, error);
  EXPECT_TRUE(endpoint) << error;
  RedisClientSettings s;
  s.endpoint = endpoint.value_or(RedisEndpoint{});
  s.timeout = timeout;
  s.min_backoff = 20ms;
  s.max_backoff = 200ms;
  return RedisClient::create(loop.executor(), s);
}

boost::asio::awaitable<RedisResult> command(std::shared_ptr<RedisClient> client, std::vector<std::string> args) {
  auto op = client->call(std::move(args));
  RedisResult r = co_await std::move(op);
  co_return r;
}

boost::asio::awaitable<std::vector<RedisResult>> many(std::shared_ptr<RedisClient> client, int n) {
  std::vector<RedisResult> out;
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args{"INCR", "counter"};
    auto op = client->call(std::move(args));
    RedisResult r = co_await std::move(op);
    out.push_back(std::move(r));
  }
  co_return out;
}

TEST(RedisClient, CommandsRoundTrip) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, server.url());
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));

  auto set = loop.sync(command(client, {"SET", "greeting", std::string("hello\r\nworld\0!", 14)}));
  ASSERT_TRUE(set.ok()) << set.error();
  EXPECT_EQ(set.reply.text, "OK");
  auto get = loop.sync(command(client, {"GET", "greeting"}));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get.reply.type, RedisReply::Type::string);
  EXPECT_EQ(get.reply.text, std::string("hello\r\nworld\0!", 14)) << "binary-safe both ways";
  auto missing = loop.sync(command(client, {"GET", "nothing-here"}));
  EXPECT_TRUE(missing.ok());
  EXPECT_EQ(missing.reply.type, RedisReply::Type::nil);
  auto wrong = loop.sync(command(client, {"INCR", "greeting"}));
  EXPECT_EQ(wrong.failure, RedisFailure::none);
  EXPECT_TRUE(wrong.reply.is_error()) << "an error reply is a reply, not a failure";
  EXPECT_FALSE(wrong.ok());
}

TEST(RedisClient, ConcurrentCallsGetTheirOwnReplies) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop(3);
  auto client = client_for(loop, server.url());
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  // 20 coroutines x 50 calls, each writing then reading its own key: a reply given to the wrong caller shows.
  std::vector<std::future<int>> futures;
  for (int c = 0; c < 20; ++c) {
    futures.push_back(boost::asio::co_spawn(
        loop.executor(),
        [](std::shared_ptr<RedisClient> cl, int id) -> boost::asio::awaitable<int> {
          int good = 0;
          for (int i = 0; i < 50; ++i) {
            std::string key = "k" + std::to_string(id);
            std::string value = std::to_string(id * 1000 + i);
            std::vector<std::string> set{"SET", key, value};
            auto s = cl->call(std::move(set));
            RedisResult stored = co_await std::move(s);
            if (!stored.ok()) continue;
            std::vector<std::string> get{"GET", key};
            auto g = cl->call(std::move(get));
            RedisResult r = co_await std::move(g);
            if (r.ok() && r.reply.text == value) ++good;
          }
          co_return good;
        }(client, c),
        boost::asio::use_future));
  }
  for (auto& f : futures) EXPECT_EQ(f.get(), 50);
  auto incrs = loop.sync(many(client, 10));
  EXPECT_EQ(incrs.back().reply.integer, 10);
}

TEST(RedisClient, EvalReloadsTheScriptAfterNoscript) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, server.url());
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  static const RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto eval = [&](std::string by) {
    return loop.sync([](std::shared_ptr<RedisClient> c, std::string b) -> boost::asio::awaitable<RedisResult> {
      std::vector<std::string> keys{"n"};
      std::vector<std::string> args{std::move(b)};
      auto op = c->eval(script, std::move(keys), std::move(args));
      RedisResult r = co_await std::move(op);
      co_return r;
    }(client, std::move(by)));
  };
  auto first = eval("2");
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first.reply.integer, 2);
  server.cli({"SCRIPT", "FLUSH"});
  auto second = eval("3");
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ(second.reply.integer, 5);
  EXPECT_NE(server.cli({"SCRIPT", "EXISTS", script.sha1}).find('1'), std::string::npos) << "loaded again";
}

TEST(RedisClient, FailsAtOnceWhileDown) {
  REQUIRE_REDIS();
  Loop loop;
  auto client = client_for(loop, "redis://127.0.0.1:" + std::to_string(smarthost::test::free_port()) + "/0");
  client->start();
  auto started = std::chrono::steady_clock::now();
  auto r = loop.sync(command(client, {"PING"}));
  EXPECT_EQ(r.failure, RedisFailure::down);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms) << "no waiting for a Redis that is not there";
  EXPECT_GE(client->stats().failures.load(), 1u);
}

TEST(RedisClient, ASlowRedisTimesOutAndTheClientReconnectsWhenItAnswersAgain) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, server.url(), 200ms);
  std::mutex mutex;
  std::vector<std::pair<bool, std::string>> changes;
  client->on_state([&](bool up, const std::string& why) {
    std::lock_guard lock(mutex);
    changes.emplace_back(up, why);
  });
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));

  server.pause();
  auto started = std::chrono::steady_clock::now();
  auto r = loop.sync(command(client, {"PING"}));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.failure, RedisFailure::timeout);
  EXPECT_GE(took, 180ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_FALSE(client->connected()) << "slow counts as down";
  EXPECT_EQ(client->stats().timeouts.load(), 1u);

  server.resume();
  ASSERT_TRUE(eventually([&] { return client->connected(); }, 5s));
  auto again = loop.sync(command(client, {"PING"}));
  EXPECT_TRUE(again.ok()) << again.error();
  std::lock_guard lock(mutex);
  ASSERT_GE(changes.size(), 3u);
  EXPECT_TRUE(changes.front().first);
  EXPECT_FALSE(changes[1].first);
  EXPECT_NE(changes[1].second.find("no reply within 200ms"), std::string::npos) << changes[1].second;
  EXPECT_TRUE(changes.back().first);
}

TEST(RedisClient, ReconnectsAfterARestart) {
  REQUIRE_REDIS();
  RedisServer server;
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, server.url());
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  server.kill();
  ASSERT_TRUE(eventually([&] { return !client->connected(); }));
  auto r = loop.sync(command(client, {"PING"}));
  EXPECT_NE(r.failure, RedisFailure::none);
  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(eventually([&] { return client->connected(); }, 5s));
  EXPECT_TRUE(loop.sync(command(client, {"PING"})).ok());
  EXPECT_GE(client->stats().connects.load(), 2u);
}

TEST(RedisClient, AuthenticatesAndSelectsTheDatabase) {
  REQUIRE_REDIS();
  RedisServer server(RedisServer::Options{"s3cret"});
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, "redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/3");
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  ASSERT_TRUE(loop.sync(command(client, {"SET", "where", "db3"})).ok());
  EXPECT_NE(server.cli({"-n", "3", "GET", "where"}).find("db3"), std::string::npos);
  EXPECT_EQ(server.cli({"-n", "0", "GET", "where"}).find("db3"), std::string::npos);

  auto wrong = client_for(loop, "redis://:nope@127.0.0.1:" + std::to_string(server.port()) + "/0");
  std::mutex mutex;
  std::string why;
  wrong->on_state([&](bool, const std::string& w) {
    std::lock_guard lock(mutex);
    why = w;
  });
  wrong->start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !why.empty();
  }));
  EXPECT_FALSE(wrong->connected());
  std::lock_guard lock(mutex);
  EXPECT_NE(why.find("AUTH refused"), std::string::npos) << why;
  EXPECT_EQ(why.find("nope"), std::string::npos) << "the password never shows";
}

TEST(RedisClient, UnixSocket) {
  REQUIRE_REDIS();
  RedisServer server(RedisServer::Options{"", true});
  ASSERT_TRUE(server.start()) << server.log();
  Loop loop;
  auto client = client_for(loop, server.url());
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  EXPECT_EQ(loop.sync(command(client, {"PING"})).reply.text, "PONG");
}

TEST(RedisClient, TlsWithTheServersCertificate) {
  REQUIRE_REDIS();
  RedisServer server(RedisServer::Options{"", false, true});
  if (!server.start()) GTEST_SKIP() << "this redis-server has no TLS: " << server.log();
  Loop loop;
  conf::SecurityConfig security;
  security.ca_file = server.cert().string();
  std::string error;
  RedisClientSettings s;
  s.endpoint = *parse_redis_url(server.url(), error);
  s.tls = upstream::smtp::make_client_tls_context(security);
  auto client = RedisClient::create(loop.executor(), s);
  client->start();
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  EXPECT_EQ(loop.sync(command(client, {"PING"})).reply.text, "PONG");

  // Without the CA the handshake fails, and the client says why.
  RedisClientSettings untrusted = s;
  untrusted.tls = upstream::smtp::make_client_tls_context(conf::SecurityConfig{});
  auto refused = RedisClient::create(loop.executor(), untrusted);
  std::mutex mutex;
  std::string why;
  refused->on_state([&](bool, const std::string& w) {
    std::lock_guard lock(mutex);
    why = w;
  });
  refused->start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return !why.empty();
  }));
  EXPECT_FALSE(refused->connected());
  std::lock_guard lock(mutex);
  EXPECT_NE(why.find("TLS"), std::string::npos) << why;
}

}  // namespace
}  // namespace smarthost::policy::redis
