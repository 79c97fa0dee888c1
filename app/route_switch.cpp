// The swappable delivery route: builds a Route from a configuration and forwards each delivery to the route that
// is current when it starts, holding that route for the delivery's whole life.
#include "app/route_switch.h"

#include <filesystem>

#include "upstream/factory.h"

namespace smarthost::app {

std::shared_ptr<Route> build_route(const conf::Config& config, boost::asio::any_io_executor executor,
                                   std::vector<std::shared_ptr<policy::FleetUpstream>> fleet,
                                   std::shared_ptr<ops::Recorder> recorder) {
  auto route = std::make_shared<Route>();
  std::vector<std::unique_ptr<upstream::Transport>> transports;
  for (const auto& u : config.upstreams) transports.push_back(upstream::make_transport(u, config, executor));
  if (recorder) recorder->observe_all(transports);
  route->router = policy::Router::from_config(config, std::move(transports), policy::system_clock(), std::move(fleet));
  route->entry = route->router.get();
  if (config.test_mode.enabled) {
    route->test_mode = std::make_unique<policy::TestModeTransport>(
        config.test_mode, *route->router, std::filesystem::path(config.queue.dir) / "test-mode");
    route->entry = route->test_mode.get();
  }
  return route;
}

RouteSwitch::RouteSwitch(std::shared_ptr<Route> route) : route_(std::move(route)) {}

boost::asio::awaitable<upstream::DeliveryResult> RouteSwitch::deliver(const upstream::OutboundMessage& message) {
  std::shared_ptr<Route> route = current();  // held until this delivery ends, whatever a reload does meanwhile
  upstream::DeliveryResult result = co_await route->entry->deliver(message);
  co_return result;
}

boost::asio::awaitable<std::vector<upstream::DeliveryResult>> RouteSwitch::deliver_batch(
    std::span<const upstream::OutboundMessage> batch) {
  std::shared_ptr<Route> route = current();
  std::vector<upstream::DeliveryResult> results = co_await route->entry->deliver_batch(batch);
  co_return results;
}

void RouteSwitch::swap(std::shared_ptr<Route> route) {
  std::lock_guard lock(mutex_);
  retired_.push_back(std::exchange(route_, std::move(route)));
}

std::shared_ptr<Route> RouteSwitch::current() const {
  std::lock_guard lock(mutex_);
  return route_;
}

std::shared_ptr<policy::Router> RouteSwitch::router() const {
  auto route = current();
  return std::shared_ptr<policy::Router>(route, route->router.get());
}

bool RouteSwitch::saturated(size_t queued) const { return current()->router->saturated(queued); }

void RouteSwitch::retry_now() { current()->router->retry_now(); }

}  // namespace smarthost::app
