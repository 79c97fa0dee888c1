// The delivery route the scheduler sends through, swappable by a configuration reload: the upstream transports,
// the router over them and the test-mode decorator, all built from one configuration. Deliveries in flight finish
// on the route they started with. It decides nothing itself.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "conf/config.h"
#include "ops/recorder.h"
#include "policy/router.h"
#include "policy/test_mode_transport.h"
#include "upstream/transport.h"

namespace smarthost::app {

// One configuration's way out: its transports (owned by the router) and, with [test_mode], the decorator.
struct Route {
  std::unique_ptr<policy::Router> router;
  std::unique_ptr<policy::TestModeTransport> test_mode;
  upstream::Transport* entry = nullptr;  // test_mode when set, else router
};

// Builds the route of `config`. Throws std::runtime_error for an upstream that cannot be built. `fleet` (fleet
// mode, in config.upstreams order) shares the upstreams' limits, pauses and circuits with other instances.
// `recorder` (ops/) wraps the transports so that metrics, alerts and health checks see every attempt.
std::shared_ptr<Route> build_route(const conf::Config& config, boost::asio::any_io_executor executor,
                                   std::vector<std::shared_ptr<policy::FleetUpstream>> fleet = {},
                                   std::shared_ptr<ops::Recorder> recorder = nullptr);

class RouteSwitch final : public upstream::Transport {
 public:
  explicit RouteSwitch(std::shared_ptr<Route> route);

  // On the route current when the call starts; never throws for remote failures (the router's contract).
  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& message) override;
  boost::asio::awaitable<std::vector<upstream::DeliveryResult>> deliver_batch(
      std::span<const upstream::OutboundMessage> batch) override;
  const std::string& name() const override { return name_; }

  // Deliveries that start from now on use `route`. Thread-safe. The old route is kept (idle, its pooled
  // connections closing on their idle timers) until this object goes: a transport's pending timers and
  // callbacks may still point at it, and reloads are rare enough for that to cost nothing.
  void swap(std::shared_ptr<Route> route);
  // The current route, and its router; the pointer keeps the whole route alive. Thread-safe.
  std::shared_ptr<Route> current() const;
  std::shared_ptr<policy::Router> router() const;
  // Router::retry_now of the current route.
  void retry_now() override;
  // Router::saturated of the current route. Thread-safe, cheap.
  bool saturated(size_t queued) const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<Route> route_;
  std::vector<std::shared_ptr<Route>> retired_;
  std::string name_ = "router";
};

}  // namespace smarthost::app
