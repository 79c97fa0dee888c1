// The running relay: builds every component from one configuration (spool, transports and router, scheduler,
// access policy, TLS, SMTP server), runs them on one io_context, and stops them in order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"

namespace smarthost::app {

class Relay {
 public:
  // Builds everything; throws std::runtime_error with a clear message when something cannot start
  // (spool directory, certificate, listener, upstream).
  explicit Relay(std::shared_ptr<const conf::Config> config);
  ~Relay();

  // Runs until SIGTERM or SIGINT, then drains and stops. Returns the exit code.
  int run();

  // What the start-up banner says: listeners, queue, where mail goes.
  std::vector<std::string> banner() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace smarthost::app
