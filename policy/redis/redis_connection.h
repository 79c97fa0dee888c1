// One connection to Redis over TCP, TLS (rediss://) or a unix socket: commands out, formatted by hiredis, and
// replies in, parsed by hiredis's reader, all on Asio without blocking. It does not pipeline, time out calls or
// reconnect: redis_client.h does. Use it from one strand; one read and one write may be pending at once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "policy/redis/redis_reply.h"
#include "policy/redis/redis_url.h"

namespace boost::asio::ssl {
class context;
}

namespace smarthost::policy::redis {

class RedisConnection {
 public:
  // The most bytes one reply may take; a bigger one breaks the connection.
  static constexpr size_t kMaxReplyBytes = 64 * 1024 * 1024;

  // `tls` is used for rediss:// endpoints (must then be set); `verify` checks the server's name.
  RedisConnection(boost::asio::any_io_executor executor, std::shared_ptr<boost::asio::ssl::context> tls,
                  bool verify);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Resolves, connects and (rediss://) completes the TLS handshake within `timeout`. Returns "" on success,
  // else why not.
  boost::asio::awaitable<std::string> connect(const RedisEndpoint& endpoint, std::chrono::milliseconds timeout);
  // Writes bytes (one or more formatted commands).
  boost::asio::awaitable<boost::system::error_code> write(std::string bytes);
  // The next reply off the wire, in order. An error code when the connection fails or the bytes are not RESP.
  boost::asio::awaitable<std::pair<boost::system::error_code, RedisReply>> read();
  // Closes the socket; pending reads and writes complete with an error.
  void close();

  // One command in RESP, as hiredis formats it.
  static std::string format(std::span<const std::string> args);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace smarthost::policy::redis
