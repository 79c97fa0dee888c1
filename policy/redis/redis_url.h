// Where the fleet's Redis is: `redis://[[user]:password@]host[:port][/db]`, `rediss://` (the same over TLS) and
// `unix:///path/to.sock[?db=N&password=P]` (also `unix:/path`). Parsing only; no I/O, nothing thrown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smarthost::policy::redis {

struct RedisEndpoint {
  enum class Kind { tcp, tls, unix_socket };
  Kind kind = Kind::tcp;
  std::string host = "127.0.0.1";  // tcp and tls
  uint16_t port = 6379;
  std::string path;                // unix_socket
  std::string username;            // AUTH username (Redis 6 ACL); empty = the default user
  std::string password;            // empty = no AUTH
  uint32_t db = 0;                 // SELECT db when not 0
  // The address for logs, never with the password: "redis://host:6379/0", "unix:/run/redis.sock".
  std::string describe() const;
};

// The endpoint, or nullopt with `error` saying what is wrong.
std::optional<RedisEndpoint> parse_redis_url(std::string_view url, std::string& error);

}  // namespace smarthost::policy::redis
