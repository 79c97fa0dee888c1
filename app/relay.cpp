// Wiring of `smarthost serve`: SMTP sessions on one io_context run by a few threads, deliveries (scheduler and
// upstream transports) on a second one run by a thread of its own; the spool, router, scheduler, access policy and
// SMTP server built from the configuration; signals for drain (SIGTERM/SIGINT), reload (SIGHUP) and, as PID 1,
// child reaping (SIGCHLD); systemd notifications and watchdog pings from the event loop.
#include "app/relay.h"

#include <pthread.h>

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "app/config_source.h"
#include "app/cpu_scheduling.h"
#include "app/route_switch.h"
#include "app/sd_notify.h"
#include "conf/config_diff.h"
#include "app/passthrough_sink.h"
#include "app/spool_sink.h"
#include "conf/loader.h"
#include "ops/logging.h"
#include "ops/monitoring.h"
#include "policy/access_policy.h"
#include "policy/memory_cache.h"
#include "policy/redis/fleet.h"
#include "policy/router.h"
#include "policy/test_mode_transport.h"
#include "policy/users_authenticator.h"
#include "queue/admin_server.h"
#include "queue/fs_spool.h"
#include "queue/scheduler.h"
#include "smtpd/server.h"
#include "smtpd/tls_context.h"
#include "upstream/factory.h"
#include "upstream/smtp/token_source.h"

namespace smarthost::app {
namespace {

namespace asio = boost::asio;
// After the drain time, deliveries in flight get this long to record their results before the process exits;
// anything still unfinished stays in the spool and goes out after the restart.
constexpr auto kDeliveryGrace = std::chrono::seconds(15);
// Longest value shown per changed key in the reload log line.
constexpr size_t kShownValue = 160;

std::string machine_hostname() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

smtpd::ServerOptions server_options(const conf::Config& c, bool tls_available, const std::string& hostname) {
  smtpd::ServerOptions o;
  o.listen = c.server.listen;
  o.listen_tls = c.server.listen_tls;
  o.max_connections = c.server.max_connections;
  o.max_connections_per_ip = c.server.max_connections_per_ip;
  o.command_timeout = c.server.command_timeout;
  o.data_timeout = c.server.data_timeout;
  auto& s = o.session;
  s.hostname = hostname;
  s.max_message_size = c.server.max_message_size;
  s.max_recipients = c.server.max_recipients;
  s.tls_available = tls_available;
  s.auth_available = !c.server.users_file.empty();
  s.allow_plaintext_auth = c.server.allow_plaintext_auth;
  s.require_tls = c.server.require_tls;
  s.require_auth = c.server.require_auth;
  s.bare_lf = c.server.bare_lf == conf::BareLf::normalize ? smtpd::BareLineEnd::normalize : smtpd::BareLineEnd::reject;
  return o;
}

std::shared_ptr<const policy::Authenticator> load_users(const conf::Config& c) {
  if (c.server.users_file.empty()) return nullptr;
  std::string error;
  auto users = smtpd::UsersFile::load(c.server.users_file, error);
  if (!users) throw std::runtime_error("users_file: " + error);
  return std::make_shared<policy::UsersAuthenticator>(std::move(*users));
}

std::string hostname_of(const conf::Config& c) { return c.server.hostname.empty() ? machine_hostname() : c.server.hostname; }

policy::AccessRules access_rules(const conf::Config& c) {
  policy::AccessRules r;
  r.allowed_ips = c.security.allowed_ips;
  r.blocked_ips = c.security.blocked_ips;
  r.require_auth = c.server.require_auth;
  r.allowed_sender_domains = c.server.allowed_sender_domains;
  r.allowed_recipient_domains = c.server.allowed_recipient_domains;
  r.max_connections_per_user = c.server.max_connections_per_user;
  r.limits.messages_per_minute_per_ip = c.server.max_messages_per_minute_per_ip;
  r.limits.recipients_per_minute_per_ip = c.server.max_recipients_per_minute_per_ip;
  r.limits.messages_per_minute_per_user = c.server.max_messages_per_minute_per_user;
  r.limits.recipients_per_minute_per_user = c.server.max_recipients_per_minute_per_user;
  return r;
}

std::string describe(const conf::Upstream& u) {
  std::string where;
  std::visit(
      [&](const auto& cfg) {
        using T = std::decay_t<decltype(cfg)>;
        if constexpr (std::is_same_v<T, conf::FileConfig>) {
          where = "files in " + std::filesystem::absolute(cfg.dir).lexically_normal().string();
        } else if constexpr (std::is_same_v<T, conf::SmtpConfig>) {
          where = cfg.host + ":" + std::to_string(cfg.port);
        } else if constexpr (std::is_same_v<T, conf::MailgunConfig>) {
          where = "domain " + cfg.domain;
        } else if constexpr (std::is_same_v<T, conf::SesConfig>) {
          where = "region " + cfg.region;
        } else {
          where = "API";
        }
      },
      u.config);
  return u.name + " (" + std::string(conf::to_string(u.provider)) + ": " + where + ")";
}

// How long a passthrough client waits for the upstream's verdict: below the session's own timeouts, so the
// client hears 451 4.4.1 before the connection's watchdog gives up on it.
std::chrono::milliseconds passthrough_deadline(const conf::Config& c) {
  auto limit = std::chrono::milliseconds(std::min(c.server.command_timeout, c.server.data_timeout));
  return std::max(std::chrono::milliseconds(500), limit - std::min(limit / 10, std::chrono::milliseconds(5000)));
}

// "server.listen: [\"a\"] -> [\"a\", \"b\"]; config.api_key: \"***\" -> \"***\"" (values already masked).
std::string describe_changes(const std::vector<conf::KeyChange>& changes) {
  auto shown = [](std::string v) {
    if (v.empty()) return std::string("(unset)");
    if (v.size() > kShownValue) v = v.substr(0, kShownValue) + "...";
    return v;
  };
  std::string out;
  for (const auto& c : changes) {
    if (!out.empty()) out += "; ";
    out += c.key + ": " + shown(c.before) + " -> " + shown(c.after);
  }
  return out;
}

// Applies [performance] cpu_scheduling to the relay's threads; a failure is logged, never fatal.
void set_cpu_scheduling(conf::CpuScheduling scheduling) {
  if (auto ec = apply_cpu_scheduling(scheduling))
    spdlog::warn("cpu_scheduling = \"{}\" not applied: {}{}", cpu_scheduling_name(scheduling), ec.message(),
                 ec == std::errc::operation_not_permitted
                     ? " (under systemd, set CPUSchedulingPolicy= in the unit to match, or cpu_scheduling to its policy)"
                     : "");
}

// Changed keys that the running relay cannot apply: they take effect at the next start.
std::vector<std::string> needing_restart(const std::vector<conf::KeyChange>& changes) {
  static constexpr std::string_view kPrefixes[] = {"queue.", "batch_processing.", "logging.", "metrics.listen",
                                                   "caching.", "server.hostname", "server.delivery_mode"};
  std::vector<std::string> out;
  for (const auto& c : changes)
    for (auto prefix : kPrefixes)
      if (c.key.rfind(prefix, 0) == 0) out.push_back(c.key);
  return out;
}

}  // namespace

struct Relay::Parts {
  explicit Parts(std::shared_ptr<const conf::Config> c) : config_(std::move(c)), signals(io), watchdog(io) {}

  // The running configuration; a reload replaces it (and reads happen on any io thread).
  std::shared_ptr<const conf::Config> config() const {
    std::lock_guard lock(config_mutex);
    return config_;
  }

  mutable std::mutex config_mutex;
  std::shared_ptr<const conf::Config> config_;  // guarded by config_mutex
  std::string hostname;
  asio::io_context io;  // SMTP sessions, the admin socket, operations, signals
  // Deliveries: the scheduler and the upstream transports, on one thread. Measured through the relay (20 sessions,
  // 4 KiB, one message per connection, three alternating runs): 5,150-5,350 msg/s with everything on two threads
  // of one context, 5,550-6,000 with this thread apart; with two delivery threads the gain is gone (strands and
  // connection pools then bounce between threads).
  asio::io_context delivery_io{1};
  queue::SystemClock clock;
  std::unique_ptr<queue::FsSpool> spool;
  // Upstream transports, router and [test_mode] decorator, swapped as a whole by a reload. Use
  // route->router() for the current policy::Router (metrics, health checks); never keep a plain pointer to it.
  std::unique_ptr<RouteSwitch> route;
  std::unique_ptr<policy::MemoryCache> cache;            // [caching]: dedup fingerprints
  std::unique_ptr<policy::redis::Fleet> fleet;           // cache_provider = "redis": state shared with other instances
  std::unique_ptr<queue::Scheduler> scheduler;
  // The access policy for new sessions (a reload makes a new one; open sessions keep theirs alive).
  std::shared_ptr<policy::AccessPolicy> access;
  std::shared_ptr<policy::AccessPolicy> first_access;  // the server's constructor argument: lives as long as it
  std::unique_ptr<smtpd::MessageSink> sink;
  std::unique_ptr<queue::AdminServer> admin;  // <queue.dir>/admin.sock for `smarthost queue`
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<smtpd::Server> server;
  asio::signal_set signals;
  SystemdNotifier notifier;
  asio::steady_timer watchdog;
  bool stopping = false;
  // ops/: counts every delivery and refusal; serves metrics.listen, runs health checks and alerts.
  std::shared_ptr<ops::Recorder> recorder = std::make_shared<ops::Recorder>();
  std::unique_ptr<ops::Monitoring> monitoring;  // declared last: it goes first, while what it watches is alive

  std::shared_ptr<policy::AccessPolicy> make_access(const conf::Config& c);
  void ping_watchdog();
  void reload();
  void shutdown();
  void wait_for_drain(std::shared_ptr<asio::steady_timer> timer, std::chrono::steady_clock::time_point deadline);
};

Relay::Relay(std::shared_ptr<const conf::Config> config) : parts_(std::make_unique<Parts>(std::move(config))) {
  auto& p = *parts_;
  const auto& c = *p.config_;
  p.hostname = hostname_of(c);

  std::error_code ec;
  std::filesystem::create_directories(c.queue.dir, ec);
  p.spool = queue::FsSpool::open(c.queue.dir, {}, ec);
  if (!p.spool) throw std::runtime_error("cannot open the queue in " + c.queue.dir + ": " + ec.message());
  const auto& recovered = p.spool->recovery();
  (void)recovered;

  p.fleet = policy::redis::Fleet::from_config(c, p.io.get_executor());
  if (p.fleet) {
    upstream::smtp::share_tokens_through(p.fleet->token_store());  // before the SMTP transports are built
    p.fleet->start();
  }
  p.route = std::make_unique<RouteSwitch>(
      build_route(c, p.delivery_io.get_executor(), p.fleet ? p.fleet->upstreams() : std::vector<std::shared_ptr<policy::FleetUpstream>>{},
                  p.recorder));
  upstream::Transport* delivery = p.route.get();

  queue::SchedulerSettings settings;
  settings.queue = c.queue;
  settings.batch = c.batch_processing;
  settings.hostname = p.hostname;
  p.scheduler = std::make_unique<queue::Scheduler>(p.delivery_io.get_executor(), *p.spool, *delivery, settings, p.clock);

  p.access = p.make_access(c);
  p.first_access = p.access;
  Dedup dedup;
  if (c.caching.enable_response_caching) {
    policy::Cache* store = p.fleet ? &p.fleet->cache() : nullptr;
    if (!store) {
      p.cache = std::make_unique<policy::MemoryCache>();
      store = p.cache.get();
    }
    dedup = Dedup{store, c.caching.cache_key_prefix, c.caching.cache_ttl};
  }
  if (c.server.delivery_mode == conf::DeliveryMode::passthrough) {
    p.sink = std::make_unique<PassthroughSink>(*p.spool, *delivery, passthrough_deadline(c));
  } else {
    p.sink = std::make_unique<QueueSink>(*p.spool, dedup);
  }
  p.admin = std::make_unique<queue::AdminServer>(p.io.get_executor(), *p.scheduler,
                                                 std::filesystem::path(c.queue.dir) / "admin.sock");
  p.tls = smtpd::make_server_tls_context(c.security);
  auto options = server_options(c, p.tls != nullptr, p.hostname);
  options.policy = p.recorder->observe(std::shared_ptr<smtpd::SessionPolicy>(p.access));
  p.server = std::make_unique<smtpd::Server>(p.io, std::move(options), *p.first_access, *p.sink, p.tls);

  // Operations: what the HTTP endpoints, health checks and alerts see of this relay (always its current parts).
  ops::RelayView view;
  view.config = [&p] { return p.config(); };
  view.server_stats = [&p] { return p.server->stats(); };
  view.listeners = [&p] { return p.server->endpoints(); };
  view.queued = [&p] { return p.scheduler->queued(); };
  view.delivering = [&p] { return p.scheduler->delivering(); };
  view.scheduler_stats = [&p] { return p.scheduler->stats(); };
  view.spool_syncs = [&p] { return p.spool->sync_stats(); };
  view.spool_recovery = [&p] { return p.spool->recovery(); };
  view.queue_tally = [&p](std::error_code& error) { return p.scheduler->tally(error); };
  view.upstreams = [&p] { return p.route->router()->snapshot(); };
  view.set_healthy = [&p](size_t index, bool healthy) { p.route->router()->set_healthy(index, healthy); };
  view.alert_transport = [&p]() -> upstream::Transport* { return p.route.get(); };
  p.monitoring = std::make_unique<ops::Monitoring>(p.io, std::move(view), p.recorder, p.hostname);
}

std::shared_ptr<policy::AccessPolicy> Relay::Parts::make_access(const conf::Config& c) {
  auto a = std::make_shared<policy::AccessPolicy>(access_rules(c), load_users(c));
  a->set_saturation_check([this] { return route->saturated(scheduler->queued()); });
  return a;
}

Relay::~Relay() = default;

std::vector<std::string> Relay::banner() const {
  const auto& p = *parts_;
  const auto config = p.config();
  const auto& c = *config;
  std::vector<std::string> lines;
  std::string listen;
  for (const auto& e : p.server->endpoints()) listen += (listen.empty() ? "" : ", ") + e;
  lines.push_back("smarthost " + std::string(SMARTHOST_VERSION) + " accepting SMTP on " + listen);
  lines.push_back("configuration: " + c.source_path + " (sha256=" + c.sha256 + ")");
  lines.push_back("queue: " + std::filesystem::absolute(c.queue.dir).lexically_normal().string() + " (" +
                  std::to_string(p.scheduler->queued()) + " messages waiting)");
  lines.push_back(std::string("cpu scheduling: ") + cpu_scheduling_name(c.performance.cpu_scheduling));
  for (const auto& u : c.upstreams) lines.push_back("delivering through " + describe(u));
  for (auto& line : p.monitoring->banner()) lines.push_back(std::move(line));
  if (c.test_mode.enabled) {
    lines.push_back("TEST MODE IS ON: " +
                    (c.test_mode.test_email.empty() ? std::string("") : "every recipient becomes " + c.test_mode.test_email + "; ") +
                    (c.test_mode.skip_delivery ? "nothing is delivered" : c.test_mode.log_only ? "messages are only logged" : ""));
  }
  return lines;
}

void Relay::Parts::wait_for_drain(std::shared_ptr<asio::steady_timer> timer,
                                  std::chrono::steady_clock::time_point deadline) {
  bool sessions_done = server->connections() == 0;
  if (sessions_done && !scheduler->stopped()) scheduler->stop();
  if ((sessions_done && scheduler->stopped()) || std::chrono::steady_clock::now() > deadline) {
    if (!sessions_done) spdlog::warn("stopping with {} sessions still open", server->connections());
    io.stop();
    delivery_io.stop();
    return;
  }
  timer->expires_after(std::chrono::milliseconds(50));
  timer->async_wait([this, timer, deadline](boost::system::error_code) { wait_for_drain(timer, deadline); });
}

void Relay::Parts::shutdown() {
  if (stopping) return;
  stopping = true;
  const auto drain = config()->server.drain_timeout;
  spdlog::info("shutting down: no new connections; open sessions may finish for up to {}s, then get 421 4.3.2",
               drain.count());
  notifier.notify("STOPPING=1\nSTATUS=draining " + std::to_string(server->connections()) + " SMTP sessions");
  monitoring->set_draining();
  server->stop(drain);
  admin->stop();
  auto timer = std::make_shared<asio::steady_timer>(io);
  wait_for_drain(timer, std::chrono::steady_clock::now() + drain + kDeliveryGrace);
}

void Relay::Parts::ping_watchdog() {
  auto interval = notifier.watchdog_interval();
  if (!interval) return;
  // Sent from the event loop itself: when the loop hangs, the pings stop and systemd restarts the service.
  notifier.notify("WATCHDOG=1");
  watchdog.expires_after(*interval);
  watchdog.async_wait([this](boost::system::error_code ec) {
    if (!ec) ping_watchdog();
  });
}

// SIGHUP: load the same source again; build the new route, TLS context and access policy and bind new listeners
// before anything is swapped, so that any failure leaves the running configuration exactly as it was.
void Relay::Parts::reload() {
  if (stopping) return;
  const auto old = config();
  notifier.reloading("reloading " + old->source_path);
  auto result = reload_config(*old);
  for (const auto& w : result.warnings) spdlog::warn("reload: {}", w.to_string());
  auto ready_again = [&](const std::string& status) { notifier.notify("READY=1\nSTATUS=" + status); };
  if (!result.ok()) {
    spdlog::error("reload refused: {} has {} error{}; keeping the running configuration (sha256={})",
                  old->source_path, result.errors.size(), result.errors.size() == 1 ? "" : "s", old->sha256);
    for (const auto& e : result.errors) spdlog::error("  {}", e.to_string());
    ready_again("reload refused; running sha256=" + old->sha256);
    return;
  }
  const auto next = result.config;
  const auto changes = conf::changed_keys(*old, *next);
  if (changes.empty()) {
    spdlog::info("reload: configuration unchanged (sha256={})", next->sha256);
    ready_again("configuration unchanged");
    return;
  }
  try {
    auto next_route = build_route(*next, delivery_io.get_executor(),
                                  fleet ? fleet->upstreams_for(*next) : std::vector<std::shared_ptr<policy::FleetUpstream>>{},
                                  recorder);
    auto next_tls = smtpd::make_server_tls_context(next->security);
    auto next_access = make_access(*next);
    auto options = server_options(*next, next_tls != nullptr, hostname_of(*next));
    options.policy = recorder->observe(std::shared_ptr<smtpd::SessionPolicy>(next_access));
    std::string error;
    if (!server->reconfigure(std::move(options), next_tls, error)) throw std::runtime_error(error);
    route->swap(std::move(next_route));
    tls = std::move(next_tls);
    access = std::move(next_access);
  } catch (const std::exception& e) {
    spdlog::error("reload refused: {}; keeping the running configuration (sha256={})", e.what(), old->sha256);
    ready_again("reload refused; running sha256=" + old->sha256);
    return;
  }
  // Old secrets stay masked too: sessions and deliveries that started before the reload still use them.
  std::vector<std::string> secrets = old->secrets;
  secrets.insert(secrets.end(), next->secrets.begin(), next->secrets.end());
  ops::set_redactions(std::move(secrets));
  {
    std::lock_guard lock(config_mutex);
    config_ = next;
  }
  monitoring->reconfigure();  // health checks, alerts and metrics follow the new configuration
  if (next->performance.cpu_scheduling != old->performance.cpu_scheduling)
    set_cpu_scheduling(next->performance.cpu_scheduling);
  spdlog::info("configuration reloaded from {}: sha256={} (was {}); {} key{} changed: {}", next->source_path,
               next->sha256, old->sha256, changes.size(), changes.size() == 1 ? "" : "s", describe_changes(changes));
  if (auto later = needing_restart(changes); !later.empty()) {
    std::string keys;
    for (const auto& k : later) keys += (keys.empty() ? "" : ", ") + k;
    spdlog::warn("reload: {} take{} effect only after a restart", keys, later.size() == 1 ? "s" : "");
  }
  ready_again("configuration reloaded, sha256=" + next->sha256);
}

// Lifts the soft limit on open files to the hard limit: each SMTP session holds a socket and a spool file.
void raise_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Relay::run() {
  auto& p = *parts_;
  raise_file_limit();
  set_cpu_scheduling(p.config()->performance.cpu_scheduling);
  // The admin socket first: once SMTP answers, `smarthost queue` finds the running relay.
  if (auto ec = p.admin->start())
    spdlog::warn("queue admin socket {}: {}; `smarthost queue` cannot reach this relay", p.admin->path().string(),
                 ec.message());
  p.server->start();
  p.scheduler->start();
  p.monitoring->start();
  for (const auto& line : banner()) spdlog::info("{}", line);
  p.signals.add(SIGTERM);
  p.signals.add(SIGINT);
  p.signals.add(SIGHUP);
  // As PID 1 (a container), orphaned processes become our children: reap them so no zombie stays behind.
  const bool init = ::getpid() == 1;
  if (init) p.signals.add(SIGCHLD);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      p.reload();
    } else if (sig == SIGCHLD) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    } else {
      p.shutdown();
    }
    p.signals.async_wait(on_signal);
  };
  p.signals.async_wait(on_signal);
  if (init) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {  // children that ended before the handler was in place
    }
  }
  std::string listening;
  for (const auto& e : p.server->endpoints()) listening += (listening.empty() ? "" : ", ") + e;
  p.notifier.notify("READY=1\nSTATUS=accepting mail on " + listening + "\nMAINPID=" + std::to_string(::getpid()));
  p.ping_watchdog();

  unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  // Named for top -H and perf: "delivery" runs the scheduler and the upstreams, "smtpd" (and this thread) the
  // sessions; the spool's threads are "commit", "cleanup" and their "/folders" helpers.
  pool.emplace_back([&] {
    ::pthread_setname_np(::pthread_self(), "delivery");
    auto busy = asio::make_work_guard(p.delivery_io);  // idle between deliveries until the drain stops it
    p.delivery_io.run();
  });
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back([&] {
      ::pthread_setname_np(::pthread_self(), "smtpd");
      p.io.run();
    });
  }
  p.io.run();
  for (auto& t : pool) t.join();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace smarthost::app
