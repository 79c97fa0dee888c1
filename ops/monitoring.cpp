// Wiring of the operations parts (see monitoring.h): what runs, from which [metrics], [monitoring] and [alerting]
// settings, and how a snapshot of the relay is gathered.
#include "ops/monitoring.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <utility>

#include "ops/alert_channels.h"
#include "ops/alert_notifier.h"
#include "ops/health_checker.h"
#include "ops/readiness.h"
#include "ops/relay_metrics.h"
#include "ops/status_report.h"
#include "ops/status_server.h"
#include "upstream/http/http_client.h"

#ifndef SMARTHOST_VERSION
#define SMARTHOST_VERSION "0.0.0"
#endif

namespace smarthost::ops {

namespace asio = boost::asio;

namespace {

// Writes the summary line every `every` on a strand.
struct SummaryLoop : std::enable_shared_from_this<SummaryLoop> {
  SummaryLoop(asio::io_context& io, std::chrono::seconds period, std::function<std::string()> line_in)
      : strand(asio::make_strand(io)), timer(strand), every(period), line(std::move(line_in)) {}
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  std::chrono::seconds every;
  std::function<std::string()> line;
  bool stopped = false;

  void arm() {
    if (stopped) return;
    timer.expires_after(every);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      spdlog::info("{}", self->line());
      self->arm();
    }));
  }
  void stop() {
    asio::dispatch(strand, [self = shared_from_this()] {
      self->stopped = true;
      self->timer.cancel();
    });
  }
};

std::string alert_sender(const conf::Config& c, const std::string& hostname) {
  for (const auto& u : c.upstreams)
    if (!u.common.from_email.empty()) return u.common.from_email;
  return "smarthost@" + hostname;
}

bool same_health(const conf::HealthCheckConfig& a, const conf::HealthCheckConfig& b) {
  return a.enabled == b.enabled && a.interval == b.interval && a.timeout == b.timeout &&
         a.failure_threshold == b.failure_threshold;
}

bool same_alerting(const conf::Config& a, const conf::Config& b) {
  const auto& x = a.alerting;
  const auto& y = b.alerting;
  if (x.error_rate_threshold != y.error_rate_threshold || x.response_time_threshold != y.response_time_threshold ||
      x.queue_size_threshold != y.queue_size_threshold || x.cooldown != y.cooldown ||
      x.notification_channels.size() != y.notification_channels.size())
    return false;
  for (size_t i = 0; i < x.notification_channels.size(); ++i) {
    const auto& m = x.notification_channels[i];
    const auto& n = y.notification_channels[i];
    if (m.type != n.type || m.recipients != n.recipients || m.url != n.url) return false;
  }
  return a.queue.dir == b.queue.dir && alert_sender(a, "") == alert_sender(b, "");
}

}  // namespace

struct Monitoring::Parts {
  Parts(asio::io_context& io_in, RelayView view_in, std::shared_ptr<Recorder> recorder_in, std::string hostname_in)
      : io(io_in), view(std::move(view_in)), recorder(std::move(recorder_in)), hostname(std::move(hostname_in)) {}

  asio::io_context& io;
  RelayView view;
  std::shared_ptr<Recorder> recorder;
  std::string hostname;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  QueueCensus census;
  std::atomic<bool> draining{false};

  // What runs. Set up by start() and reconfigure() (on an I/O thread); read by the HTTP routes on any thread.
  mutable std::mutex mutex;
  std::shared_ptr<const conf::Config> applied;  // the configuration the parts below were made from
  MetricFamilies families;
  std::shared_ptr<HealthChecker> health;
  std::shared_ptr<AlertNotifier> alerts;
  std::shared_ptr<SummaryLoop> summary;
  std::unique_ptr<StatusServer> http;  // set once, by start()
  std::shared_ptr<upstream::http::HttpClient> webhook_client;

  std::shared_ptr<const conf::Config> config() const { return view.config ? view.config() : nullptr; }

  RelaySnapshot snapshot() {
    std::shared_ptr<HealthChecker> checker;
    std::shared_ptr<AlertNotifier> notifier;
    {
      std::lock_guard lock(mutex);
      checker = health;
      notifier = alerts;
    }
    RelaySnapshot s;
    auto c = config();
    s.version = SMARTHOST_VERSION;
    s.hostname = hostname;
    if (c) {
      s.config_path = c->source_path;
      s.config_sha256 = c->sha256;
    }
    s.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    s.draining = draining.load();
    if (view.server_stats) s.server = view.server_stats();
    if (view.listeners) s.listeners = view.listeners();
    if (view.scheduler_stats) s.scheduler = view.scheduler_stats();
    if (view.spool_syncs) s.spool = view.spool_syncs();
    if (view.spool_recovery) s.spool_recovery = view.spool_recovery();
    s.queue = census.count(view);
    if (view.upstreams) s.upstreams = view.upstreams();
    for (const auto* t : recorder->upstreams()) {
      UpstreamCounts u;
      u.name = t->name;
      u.delivered = t->delivered.value();
      u.temporary = t->temporary.value();
      u.permanent = t->permanent.value();
      u.upstream_refused = t->upstream_refused.value();
      u.throttled = t->throttled.value();
      u.recipients_delivered = t->recipients_delivered.value();
      u.latency = t->latency.snapshot();
      s.tallies.push_back(std::move(u));
    }
    if (checker) {
      s.health_checks = true;
      s.health = checker->snapshot();
    }
    s.window = recorder->window();
    s.window_span = recorder->window_span();
    for (size_t i = 0; i < kRejectReasons; ++i) s.rejections[i] = recorder->rejections(static_cast<RejectReason>(i));
    s.data_stage_rejections = recorder->data_stage_rejections();
    s.recent_errors = recorder->recent_errors();
    if (notifier) {
      s.alerting = true;
      s.alerts = notifier->active();
      for (const auto& channel : notifier->channels())
        s.channels.push_back(ChannelCounts{std::string(channel->kind()), channel->tally().sent.value(),
                                           channel->tally().failed.value()});
    }
    s.process = read_process_stats();
    s.readiness = assess_readiness(s, check_spool(c ? std::filesystem::path(c->queue.dir) : std::filesystem::path(".")));
    return s;
  }

  std::string metrics_text() {
    MetricFamilies f;
    {
      std::lock_guard lock(mutex);
      f = families;
    }
    return render_metrics(snapshot(), f);
  }

  AlertInputs alert_inputs() {
    std::shared_ptr<HealthChecker> checker;
    {
      std::lock_guard lock(mutex);
      checker = health;
    }
    AlertInputs in;
    auto window = recorder->window();
    in.attempts = window.attempts;
    in.error_rate = window.error_rate;
    in.p95_latency_ms = window.p95_ms;
    in.window = recorder->window_span();
    in.queue_size = view.queued ? view.queued() : 0;
    if (checker)
      for (const auto& h : checker->snapshot())
        if (!h.healthy) in.upstreams_down.push_back(h.name);
    if (view.upstreams)
      for (const auto& u : view.upstreams())
        if (u.breaker.state == policy::BreakerState::open) in.circuits_open.push_back(u.name);
    return in;
  }

  std::map<std::string, HttpRoute> routes() {
    std::map<std::string, HttpRoute> r;
    r["/metrics"] = [this] { return HttpAnswer{200, "text/plain; version=0.0.4; charset=utf-8", metrics_text()}; };
    r["/healthz"] = [this] {
      auto up = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
      boost::json::object o{{"status", "alive"}, {"uptime_seconds", up}};
      return HttpAnswer{200, "application/json", boost::json::serialize(o) + "\n"};
    };
    r["/readyz"] = [this] {
      auto s = snapshot();
      return HttpAnswer{s.readiness.ready ? 200u : 503u, "application/json", readiness_json(s.readiness)};
    };
    r["/status"] = [this] { return HttpAnswer{200, "application/json", status_json(snapshot())}; };
    r["/"] = [] {
      return HttpAnswer{200, "text/plain; charset=utf-8",
                        "smarthost operations: /metrics (Prometheus), /healthz, /readyz, /status (JSON)\n"};
    };
    return r;
  }

  std::shared_ptr<HealthChecker> make_health(const conf::Config& c) {
    if (!c.monitoring.health_check.enabled) return nullptr;
    auto rec = recorder;
    HealthChecker::Targets targets = [rec] { return rec->probe_targets(); };
    HealthChecker::Verdict verdict = [this](size_t index, bool healthy) {
      if (view.set_healthy) view.set_healthy(index, healthy);
    };
    auto checker = std::make_shared<HealthChecker>(io.get_executor(), HealthCheckSettings::from(c.monitoring.health_check),
                                                   std::move(targets), std::move(verdict));
    checker->start();
    return checker;
  }

  std::shared_ptr<AlertNotifier> make_alerts(const conf::Config& c) {
    std::vector<std::shared_ptr<AlertChannel>> channels;
    for (const auto& channel : c.alerting.notification_channels) {
      if (channel.type == "webhook" && !channel.url.empty()) {
        if (!webhook_client) {
          upstream::http::HttpClientSettings settings;
          settings.tls = upstream::http::HttpTlsSettings::from(c.security);
          webhook_client = std::make_shared<upstream::http::HttpClient>(io.get_executor(), settings);
        }
        channels.push_back(std::make_shared<WebhookChannel>(io.get_executor(), webhook_client, channel.url, hostname));
      } else if (channel.type == "email" && !channel.recipients.empty()) {
        channels.push_back(std::make_shared<EmailChannel>(io.get_executor(), view.alert_transport, channel.recipients,
                                                          alert_sender(c, hostname), hostname,
                                                          std::filesystem::path(c.queue.dir) / "alerts"));
      }
    }
    AlertThresholds thresholds;
    thresholds.error_rate = c.alerting.error_rate_threshold;
    thresholds.p95_latency_ms = c.alerting.response_time_threshold;
    thresholds.queue_size = c.alerting.queue_size_threshold;
    thresholds.cooldown = c.alerting.cooldown;
    auto notifier = std::make_shared<AlertNotifier>(io.get_executor(), thresholds, [this] { return alert_inputs(); },
                                                    std::move(channels), hostname);
    notifier->start();
    return notifier;
  }

  std::shared_ptr<SummaryLoop> make_summary(const conf::Config& c) {
    if (!c.metrics.enabled) return nullptr;
    auto loop = std::make_shared<SummaryLoop>(io, c.metrics.export_interval, [this] { return summary_line(snapshot()); });
    loop->arm();
    return loop;
  }

  // Brings the running parts in line with `c`: only what changed is stopped and made again (an alert rule's
  // state and a health record survive a reload that does not touch their settings).
  void apply(const std::shared_ptr<const conf::Config>& c) {
    std::shared_ptr<HealthChecker> old_health;
    std::shared_ptr<AlertNotifier> old_alerts;
    std::shared_ptr<SummaryLoop> old_summary;
    std::shared_ptr<const conf::Config> before;
    {
      std::lock_guard lock(mutex);
      before = applied;
      families = MetricFamilies{c->metrics.track_throughput, c->metrics.track_error_rates, c->metrics.track_delivery_time};
    }
    bool new_health = !before || !same_health(before->monitoring.health_check, c->monitoring.health_check);
    bool new_alerts = !before || !same_alerting(*before, *c);
    bool new_summary = !before || before->metrics.enabled != c->metrics.enabled ||
                       before->metrics.export_interval != c->metrics.export_interval;
    auto health_next = new_health ? make_health(*c) : nullptr;
    auto alerts_next = new_alerts ? make_alerts(*c) : nullptr;
    auto summary_next = new_summary ? make_summary(*c) : nullptr;
    {
      std::lock_guard lock(mutex);
      if (new_health) old_health = std::exchange(health, health_next);
      if (new_alerts) old_alerts = std::exchange(alerts, alerts_next);
      if (new_summary) old_summary = std::exchange(summary, summary_next);
      applied = c;
    }
    if (old_health) old_health->stop();
    if (old_alerts) old_alerts->stop();
    if (old_summary) old_summary->stop();
  }
};

Monitoring::Monitoring(asio::io_context& io, RelayView view, std::shared_ptr<Recorder> recorder, std::string hostname)
    : parts_(std::make_unique<Parts>(io, std::move(view), std::move(recorder), std::move(hostname))) {}

Monitoring::~Monitoring() { stop(); }

void Monitoring::start() {
  auto& p = *parts_;
  auto c = p.config();
  if (!c) return;
  if (c->metrics.enabled) {
    auto http = std::make_unique<StatusServer>(p.io, p.routes());
    try {
      http->start(c->metrics.listen);
      std::lock_guard lock(p.mutex);
      p.http = std::move(http);
    } catch (const std::exception& e) {
      spdlog::error("{}: /metrics, /healthz, /readyz and /status are off", e.what());
    }
  }
  p.apply(c);
}

void Monitoring::reconfigure() {
  auto& p = *parts_;
  auto c = p.config();
  if (!c) return;
  {
    std::lock_guard lock(p.mutex);
    if (!p.applied || p.applied == c) return;
    if (p.applied->metrics.listen != c->metrics.listen || p.applied->metrics.enabled != c->metrics.enabled)
      spdlog::warn("reload: metrics.listen and metrics.enabled take effect after a restart");
  }
  p.apply(c);
}

void Monitoring::set_draining() { parts_->draining = true; }

void Monitoring::stop() {
  auto& p = *parts_;
  std::lock_guard lock(p.mutex);
  if (p.http) p.http->stop();
  if (p.health) p.health->stop();
  if (p.alerts) p.alerts->stop();
  if (p.summary) p.summary->stop();
}

std::vector<std::string> Monitoring::banner() const {
  const auto& p = *parts_;
  std::lock_guard lock(p.mutex);
  std::vector<std::string> lines;
  if (p.http) {
    lines.push_back("metrics and health on http://" + p.http->endpoint() + " (/metrics, /healthz, /readyz, /status)");
  }
  if (p.health) {
    lines.push_back("health checks every " +
                    format_duration(std::chrono::duration_cast<std::chrono::seconds>(p.health->settings().interval)) +
                    ", out of rotation after " + std::to_string(p.health->settings().failure_threshold) +
                    " failed probes");
  }
  if (p.alerts && !p.alerts->channels().empty()) {
    std::string kinds;
    for (const auto& c : p.alerts->channels()) kinds += (kinds.empty() ? "" : ", ") + std::string(c->kind());
    lines.push_back("alerts go to " + kinds);
  }
  return lines;
}

RelaySnapshot Monitoring::snapshot() { return parts_->snapshot(); }

std::string Monitoring::http_endpoint() const {
  std::lock_guard lock(parts_->mutex);
  return parts_->http ? parts_->http->endpoint() : std::string();
}

}  // namespace smarthost::ops
