// Operations for a running relay, in one place: the HTTP server on metrics.listen (/metrics, /healthz, /readyz,
// /status), the upstream health checks, the alert loop with its channels, and the periodic summary line in the
// log. It sees the relay through a RelayView and a Recorder (which the relay put around its transports and access
// policy) and changes nothing but the router's rotation (through the health checks' verdicts).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ops/recorder.h"
#include "ops/relay_snapshot.h"
#include "ops/relay_view.h"

namespace boost::asio {
class io_context;
}

namespace smarthost::ops {

class Monitoring {
 public:
  // Reads the configuration through view.config() at start(). Nothing runs before start().
  Monitoring(boost::asio::io_context& io, RelayView view, std::shared_ptr<Recorder> recorder, std::string hostname);
  ~Monitoring();
  Monitoring(const Monitoring&) = delete;
  Monitoring& operator=(const Monitoring&) = delete;

  // Starts what the configuration asks for. A metrics.listen that cannot be bound is logged as an error and
  // leaves the relay running without the HTTP endpoints (mail keeps flowing).
  void start();
  // From now on /readyz answers 503 "shutting down".
  void set_draining();
  void stop();

  // The start-up banner's lines about operations.
  std::vector<std::string> banner() const;
  // Everything /metrics and /status show, gathered now. Thread-safe.
  RelaySnapshot snapshot();
  // Where the HTTP server listens ("127.0.0.1:9325"); empty when it does not.
  std::string http_endpoint() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace smarthost::ops
