// The fleet's Redis client: one pipelined connection (redis_connection.h) on its own strand, a timeout on every
// call, reconnection with exponential backoff after any failure, and EVALSHA that loads the script again after a
// NOSCRIPT error. A slow Redis counts as a down one: a call that times out drops the connection. While it is
// down, calls fail at once, so callers fall back without waiting. It keeps no data and knows no key layout.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/redis/redis_connection.h"
#include "policy/redis/redis_reply.h"
#include "policy/redis/redis_url.h"

namespace boost::asio::ssl {
class context;
}

namespace smarthost::policy::redis {

struct RedisClientSettings {
  RedisEndpoint endpoint;
  std::chrono::milliseconds timeout{500};  // each call; also the connect and the AUTH/SELECT hello
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  size_t max_pending = 10'000;              // calls waiting for a reply at once; beyond, refused at once
  std::shared_ptr<boost::asio::ssl::context> tls;  // for rediss://
  bool verify_certificates = true;
};

// A Lua script and its SHA-1, for EVALSHA.
struct RedisScript {
  explicit RedisScript(std::string body);
  std::string body;
  std::string sha1;  // lower-case hex
};

// Counters for metrics; read at any time.
struct RedisClientStats {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> failures{0};    // no reply: down, timeout, overloaded, lost
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> connects{0};    // connections established
  std::atomic<uint64_t> connect_failures{0};
};

class RedisClient : public std::enable_shared_from_this<RedisClient> {
 public:
  // Told on every connection (true) and on every failure to connect or lost connection (false, why).
  using StateListener = std::function<void(bool connected, const std::string& why)>;

  static std::shared_ptr<RedisClient> create(boost::asio::any_io_executor executor, RedisClientSettings settings);
  ~RedisClient();

  // Before start(). Called on the client's strand; must be quick.
  void on_state(StateListener listener);
  // Starts connecting in the background (and reconnecting for as long as it runs).
  void start();
  // Closes the connection and stops reconnecting; calls fail with `down` from then on.
  void stop();
  // True while a connection is up. Thread-safe.
  bool connected() const { return connected_.load(); }

  // One command, e.g. {"SET", key, value, "PX", "1000"}. Thread-safe; resumes on the caller's executor. Never
  // throws; completes within the call timeout.
  boost::asio::awaitable<RedisResult> call(std::vector<std::string> args);
  // EVALSHA of `script` (which must outlive the call), loading it with SCRIPT LOAD after a NOSCRIPT reply.
  boost::asio::awaitable<RedisResult> eval(const RedisScript& script, std::vector<std::string> keys,
                                           std::vector<std::string> args);

  const RedisClientSettings& settings() const { return settings_; }
  const RedisClientStats& stats() const { return stats_; }

 private:
  RedisClient(boost::asio::any_io_executor executor, RedisClientSettings settings);
  struct Inner;
  static boost::asio::awaitable<RedisResult> call_on_strand(std::shared_ptr<RedisClient> self, std::string bytes);
  static boost::asio::awaitable<void> maintain(std::shared_ptr<RedisClient> self);
  static boost::asio::awaitable<void> read_loop(std::shared_ptr<RedisClient> self, uint64_t generation);
  static boost::asio::awaitable<void> write_loop(std::shared_ptr<RedisClient> self, uint64_t generation);
  static boost::asio::awaitable<std::string> hello(std::shared_ptr<RedisClient> self,
                                                  std::shared_ptr<RedisConnection> connection);
  void connection_failed(const std::string& why);

  RedisClientSettings settings_;
  std::unique_ptr<Inner> inner_;  // touched on the strand only
  std::atomic<bool> connected_{false};
  RedisClientStats stats_;
};

}  // namespace smarthost::policy::redis
