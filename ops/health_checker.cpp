// The health-check loop (see health_checker.h): a timer on a strand, one probe coroutine per upstream, a deadline
// timer per probe, and the verdicts handed to the router.
#include "ops/health_checker.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <set>

#include "ops/logging.h"

namespace smarthost::ops {

namespace asio = boost::asio;

HealthCheckSettings HealthCheckSettings::from(const conf::HealthCheckConfig& config) {
  HealthCheckSettings s;
  s.interval = config.interval;
  s.timeout = config.timeout;
  s.failure_threshold = config.failure_threshold;
  return s;
}

namespace {

// A coroutine function (not a lambda with captures): GCC 12 and co_spawn'ed lambdas do not mix.
asio::awaitable<upstream::ProbeResult> run_probe(std::shared_ptr<upstream::Transport> transport,
                                                 std::chrono::milliseconds timeout) {
  upstream::ProbeResult result = co_await transport->probe(timeout);
  co_return result;
}

}  // namespace

struct HealthChecker::Loop : std::enable_shared_from_this<Loop> {
  Loop(asio::any_io_executor executor, const HealthCheckSettings& s, Targets targets_in, Verdict verdict_in)
      : strand(asio::make_strand(executor)), timer(strand), settings(s), tracker(s.failure_threshold),
        targets(std::move(targets_in)), verdict(std::move(verdict_in)) {}

  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  HealthCheckSettings settings;
  HealthTracker tracker;  // thread-safe itself: snapshot() reads it from any thread
  Targets targets;
  Verdict verdict;
  std::set<std::string> in_flight;  // upstream names with a probe running
  bool stopped = false;

  // On the strand.
  void round() {
    if (stopped) return;
    auto list = targets ? targets() : std::vector<ProbeTarget>{};
    std::vector<std::string> names;
    for (const auto& t : list) names.push_back(t.name);
    tracker.set_upstreams(names);
    // A router rebuilt by a reload starts with every upstream in rotation: say again which ones are out.
    auto health = tracker.snapshot();
    for (size_t i = 0; i < health.size() && i < list.size(); ++i)
      if (!health[i].healthy && verdict) verdict(list[i].index, false);
    for (size_t i = 0; i < list.size(); ++i) probe(list[i], i);
    timer.expires_after(settings.interval);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->round();
    }));
  }

  void probe(const ProbeTarget& target, size_t position) {
    auto transport = target.transport.lock();
    if (!transport || in_flight.contains(target.name)) return;
    in_flight.insert(target.name);
    auto self = shared_from_this();
    auto settled = std::make_shared<bool>(false);  // touched on the strand only
    auto started = std::chrono::steady_clock::now();
    auto deadline = std::make_shared<asio::steady_timer>(strand, settings.timeout);
    deadline->async_wait(asio::bind_executor(strand, [self, target, position, settled, started](
                                                         boost::system::error_code ec) {
      if (ec || *settled) return;
      *settled = true;
      self->conclude(target, position,
                     {false, "no answer within " + std::to_string(self->settings.timeout.count()) + " ms"}, started);
    }));
    asio::co_spawn(strand, run_probe(std::move(transport), settings.timeout),
                   asio::bind_executor(strand, [self, target, position, settled, started, deadline](
                                                   std::exception_ptr error, upstream::ProbeResult result) {
                     self->in_flight.erase(target.name);
                     deadline->cancel();
                     if (*settled) return;
                     *settled = true;
                     if (error) result = {false, "the probe failed unexpectedly"};
                     self->conclude(target, position, std::move(result), started);
                   }));
  }

  void conclude(const ProbeTarget& target, size_t position, upstream::ProbeResult result,
                std::chrono::steady_clock::time_point started) {
    if (stopped) return;
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    std::string detail = redact(result.detail);
    if (result.ok) {
      spdlog::debug("health upstream={} ok in {:.0f} ms: {}", target.name, took.count() * 1000, detail);
    } else {
      spdlog::warn("health upstream={} probe failed in {:.0f} ms: {}", target.name, took.count() * 1000, detail);
    }
    auto change = tracker.record(position, result.ok, detail, took, std::chrono::system_clock::now());
    if (!change) return;
    if (*change) {
      spdlog::info("health upstream={} down -> up: back in rotation", target.name);
    } else {
      spdlog::warn("health upstream={} up -> down: out of rotation after {} failed probes", target.name,
                   tracker.failure_threshold());
    }
    if (verdict) verdict(target.index, *change);
  }
};

HealthChecker::HealthChecker(asio::any_io_executor executor, HealthCheckSettings settings, Targets targets,
                             Verdict verdict)
    : settings_(settings),
      loop_(std::make_shared<Loop>(std::move(executor), settings, std::move(targets), std::move(verdict))) {}

std::vector<UpstreamHealth> HealthChecker::snapshot() const { return loop_->tracker.snapshot(); }

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  asio::dispatch(loop_->strand, [loop = loop_] { loop->round(); });
}

void HealthChecker::stop() {
  auto loop = loop_;
  asio::dispatch(loop->strand, [loop] {
    loop->stopped = true;
    loop->timer.cancel();
  });
}

}  // namespace smarthost::ops
