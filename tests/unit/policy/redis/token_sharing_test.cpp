// OAuth2 token sharing (fleet mode): sources made after share_tokens_through() keep their tokens in the shared
// store, so a second relay instance reuses the first one's token instead of refreshing; a refused token is
// replaced by a fresh fetch, which the others then pick up.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>

#include "policy/memory_cache.h"
#include "policy/redis/shared_token_store.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "upstream/smtp/token_source.h"

namespace smarthost::policy::redis {
namespace {

using upstream::smtp::AccessToken;
using upstream::smtp::TokenSource;

boost::asio::awaitable<AccessToken> token_of(std::shared_ptr<TokenSource> source, bool force) {
  auto op = source->access_token(force);
  AccessToken t = co_await std::move(op);
  co_return t;
}

AccessToken get(boost::asio::io_context& io, std::shared_ptr<TokenSource> source, bool force = false) {
  auto future = boost::asio::co_spawn(io, token_of(std::move(source), force), boost::asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

TEST(TokenSharing, ASecondInstanceReusesTheFirstOnesToken) {
  std::atomic<int> fetches{0};
  smarthost::test::FakeHttpServer endpoint([&](const smarthost::test::HttpExchange&) {
    smarthost::test::FakeAnswer a;
    a.headers = {{"Content-Type", "application/json"}};
    a.body = R"({"access_token":"tok-)" + std::to_string(++fetches) + R"(","expires_in":3600})";
    return a;
  });
  conf::AuthenticationConfig auth;
  auth.type = "oauth2";
  auth.client_id = "relay";
  auth.client_secret = "secret";
  auth.refresh_token = "refresh";
  auth.token_url = endpoint.base_url() + "/token";

  MemoryCache cache;  // stands in for Redis: what matters is that both sources see one store
  upstream::smtp::share_tokens_through(std::make_shared<SharedTokenCache>(cache, "p:"));
  boost::asio::io_context io;
  auto first = upstream::smtp::make_oauth_token_source(io.get_executor(), auth, {}, std::chrono::seconds(5));
  auto second = upstream::smtp::make_oauth_token_source(io.get_executor(), auth, {}, std::chrono::seconds(5));
  upstream::smtp::share_tokens_through(nullptr);

  EXPECT_EQ(get(io, first).token, "tok-1");
  EXPECT_EQ(get(io, second).token, "tok-1") << "taken from the shared store";
  EXPECT_EQ(fetches.load(), 1);
  EXPECT_EQ(cache.size(), 1u);

  // The server refused tok-1: the second instance fetches a new one; the first takes that on its next refusal.
  EXPECT_EQ(get(io, second, true).token, "tok-2");
  EXPECT_EQ(get(io, first, true).token, "tok-2");
  EXPECT_EQ(fetches.load(), 2);

  // Without sharing, each source fetches its own.
  auto alone = upstream::smtp::make_oauth_token_source(io.get_executor(), auth, {}, std::chrono::seconds(5));
  EXPECT_EQ(get(io, alone).token, "tok-3");
}

}  // namespace
}  // namespace smarthost::policy::redis
