// The operations HTTP server on metrics.listen (default 127.0.0.1:9325), on Boost.Beast: answers GET (and HEAD)
// for a fixed set of paths (/metrics, /healthz, /readyz, /status) from route functions. Every read and write has a
// deadline, request headers are capped, bodies are refused, connections are capped. Loopback by default; it
// has no authentication, so only expose it on a trusted network.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace smarthost::ops {

struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Builds the answer for one path. Runs on an I/O thread: it must be quick (no network waits).
using HttpRoute = std::function<HttpAnswer()>;

struct StatusServerLimits {
  std::size_t header_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{10000};
  std::size_t max_connections = 64;
  std::size_t max_requests_per_connection = 100;
};

class StatusServer {
 public:
  StatusServer(boost::asio::io_context& io, std::map<std::string, HttpRoute> routes, StatusServerLimits limits = {});
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds `listen` ("host:port" or "[v6]:port"; port 0 = any free one) and starts accepting. Throws
  // std::runtime_error naming the address when it cannot.
  void start(const std::string& listen);
  // Stops accepting and closes the listener; requests in progress finish.
  void stop();
  // "127.0.0.1:9325" once started.
  std::string endpoint() const;

  struct State;  // internal; shared with the connection coroutines

 private:
  std::shared_ptr<State> state_;
};

}  // namespace smarthost::ops
