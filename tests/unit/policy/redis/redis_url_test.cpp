// redis_url: the URL forms of [caching] redis_url (redis://, rediss://, unix:), credentials, db, and the errors.
#include "policy/redis/redis_url.h"

#include <gtest/gtest.h>

namespace smarthost::policy::redis {
namespace {

RedisEndpoint parse_ok(std::string_view url) {
  std::string error;
  auto e = parse_redis_url(url, error);
  EXPECT_TRUE(e) << url << ": " << error;
  return e.value_or(RedisEndpoint{});
}

std::string parse_error(std::string_view url) {
  std::string error;
  auto e = parse_redis_url(url, error);
  EXPECT_FALSE(e) << url;
  return error;
}

TEST(RedisUrl, HostPortAndDb) {
  auto e = parse_ok("redis://cache.internal:6380/2");
  EXPECT_EQ(e.kind, RedisEndpoint::Kind::tcp);
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 2u);
  EXPECT_TRUE(e.password.empty());
  EXPECT_EQ(e.describe(), "redis://cache.internal:6380/2");
}

TEST(RedisUrl, DefaultsToPort6379AndDb0) {
  auto e = parse_ok("redis://localhost");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0u);
}

TEST(RedisUrl, PasswordFormsAndEscapes) {
  auto a = parse_ok("redis://:s%40cret@127.0.0.1:6379/0");
  EXPECT_EQ(a.password, "s@cret");
  EXPECT_TRUE(a.username.empty());
  auto b = parse_ok("redis://relay:pw@127.0.0.1/1");
  EXPECT_EQ(b.username, "relay");
  EXPECT_EQ(b.password, "pw");
  auto c = parse_ok("redis://onlypassword@127.0.0.1");
  EXPECT_EQ(c.password, "onlypassword");
  EXPECT_EQ(c.describe().find("pw"), std::string::npos);
  EXPECT_EQ(b.describe().find("pw"), std::string::npos) << "the password never shows in logs";
}

TEST(RedisUrl, TlsAndIpv6) {
  auto e = parse_ok("rediss://[::1]:6390/0");
  EXPECT_EQ(e.kind, RedisEndpoint::Kind::tls);
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6390);
  EXPECT_EQ(e.describe(), "rediss://[::1]:6390/0");
}

TEST(RedisUrl, UnixSockets) {
  auto a = parse_ok("unix:///run/redis/redis.sock?db=3&password=x%20y");
  EXPECT_EQ(a.kind, RedisEndpoint::Kind::unix_socket);
  EXPECT_EQ(a.path, "/run/redis/redis.sock");
  EXPECT_EQ(a.db, 3u);
  EXPECT_EQ(a.password, "x y");
  auto b = parse_ok("unix:/tmp/r.sock");
  EXPECT_EQ(b.path, "/tmp/r.sock");
  EXPECT_EQ(b.describe(), "unix:/tmp/r.sock");
}

TEST(RedisUrl, Errors) {
  EXPECT_NE(parse_error("http://localhost").find("redis://"), std::string::npos);
  EXPECT_NE(parse_error("redis://localhost:0").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://localhost:99999").find("port"), std::string::npos);
  EXPECT_NE(parse_error("redis://localhost/abc").find("database"), std::string::npos);
  EXPECT_NE(parse_error("redis://:6379").find("host"), std::string::npos);
  EXPECT_NE(parse_error("unix:relative.sock").find("absolute"), std::string::npos);
  EXPECT_NE(parse_error("unix:///a.sock?nodb=1").find("unknown parameter"), std::string::npos);
  EXPECT_NE(parse_error("redis://%zz@localhost").find("escape"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::policy::redis
