// Wiring of `smarthost serve`: one io_context on a few threads; the spool, router, scheduler, access policy and
// SMTP server built from the configuration; signals for drain (SIGTERM/SIGINT) and reload (SIGHUP).
#include "app/relay.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "app/config_source.h"
#include "app/passthrough_sink.h"
#include "app/spool_sink.h"
#include "conf/loader.h"
#include "ops/logging.h"
#include "policy/access_policy.h"
#include "policy/memory_cache.h"
#include "policy/router.h"
#include "policy/test_mode_transport.h"
#include "policy/users_authenticator.h"
#include "queue/admin_server.h"
#include "queue/fs_spool.h"
#include "queue/scheduler.h"
#include "smtpd/server.h"
#include "smtpd/tls_context.h"
#include "upstream/factory.h"

namespace smarthost::app {
namespace {

namespace asio = boost::asio;
constexpr auto kDrain = std::chrono::seconds(30);

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

}  // namespace

struct Relay::Parts {
  explicit Parts(std::shared_ptr<const conf::Config> c) : config(std::move(c)), signals(io) {}

  std::shared_ptr<const conf::Config> config;
  std::string hostname;
  asio::io_context io;
  queue::SystemClock clock;
  std::unique_ptr<queue::FsSpool> spool;
  std::unique_ptr<policy::Router> router;
  std::unique_ptr<policy::TestModeTransport> test_mode;  // in front of the router while [test_mode] is on
  std::unique_ptr<policy::MemoryCache> cache;            // [caching]: dedup fingerprints
  std::unique_ptr<queue::Scheduler> scheduler;
  std::unique_ptr<policy::AccessPolicy> access;
  std::unique_ptr<smtpd::MessageSink> sink;
  std::unique_ptr<queue::AdminServer> admin;  // <queue.dir>/admin.sock for `smarthost queue`
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<smtpd::Server> server;
  asio::signal_set signals;
  bool stopping = false;

  void reload();
  void shutdown();
  void wait_for_drain(std::shared_ptr<asio::steady_timer> timer, std::chrono::steady_clock::time_point deadline);
};

Relay::Relay(std::shared_ptr<const conf::Config> config) : parts_(std::make_unique<Parts>(std::move(config))) {
  auto& p = *parts_;
  const auto& c = *p.config;
  p.hostname = c.server.hostname.empty() ? machine_hostname() : c.server.hostname;

  std::error_code ec;
  std::filesystem::create_directories(c.queue.dir, ec);
  p.spool = queue::FsSpool::open(c.queue.dir, {}, ec);
  if (!p.spool) throw std::runtime_error("cannot open the queue in " + c.queue.dir + ": " + ec.message());
  const auto& recovered = p.spool->recovery();
  (void)recovered;

  std::vector<std::unique_ptr<upstream::Transport>> transports;
  for (const auto& u : c.upstreams) transports.push_back(upstream::make_transport(u, c, p.io.get_executor()));
  p.router = policy::Router::from_config(c, std::move(transports));
  upstream::Transport* delivery = p.router.get();
  if (c.test_mode.enabled) {
    p.test_mode = std::make_unique<policy::TestModeTransport>(c.test_mode, *p.router,
                                                              std::filesystem::path(c.queue.dir) / "test-mode");
    delivery = p.test_mode.get();
  }

  queue::SchedulerSettings settings;
  settings.queue = c.queue;
  settings.batch = c.batch_processing;
  settings.hostname = p.hostname;
  p.scheduler = std::make_unique<queue::Scheduler>(p.io.get_executor(), *p.spool, *delivery, settings, p.clock);

  p.access = std::make_unique<policy::AccessPolicy>(access_rules(c), load_users(c));
  p.access->set_saturation_check([&p] { return p.router->saturated(p.scheduler->queued()); });
  Dedup dedup;
  if (c.caching.enable_response_caching) {
    if (c.caching.cache_provider == conf::CacheProvider::redis)
      spdlog::warn("caching: the redis provider is not available yet; using the in-memory cache");
    p.cache = std::make_unique<policy::MemoryCache>();
    dedup = Dedup{p.cache.get(), c.caching.cache_key_prefix, c.caching.cache_ttl};
  }
  if (c.server.delivery_mode == conf::DeliveryMode::passthrough) {
    p.sink = std::make_unique<PassthroughSink>(*p.spool, *delivery, passthrough_deadline(c));
  } else {
    p.sink = std::make_unique<QueueSink>(*p.spool, dedup);
  }
  p.admin = std::make_unique<queue::AdminServer>(p.io.get_executor(), *p.scheduler,
                                                 std::filesystem::path(c.queue.dir) / "admin.sock");
  p.tls = smtpd::make_server_tls_context(c.security);
  p.server = std::make_unique<smtpd::Server>(p.io, server_options(c, p.tls != nullptr, p.hostname), *p.access, *p.sink,
                                             p.tls);
}

Relay::~Relay() = default;

std::vector<std::string> Relay::banner() const {
  const auto& p = *parts_;
  const auto& c = *p.config;
  std::vector<std::string> lines;
  std::string listen;
  for (const auto& e : p.server->endpoints()) listen += (listen.empty() ? "" : ", ") + e;
  lines.push_back("smarthost " + std::string(SMARTHOST_VERSION) + " accepting SMTP on " + listen);
  lines.push_back("configuration: " + c.source_path);
  lines.push_back("queue: " + std::filesystem::absolute(c.queue.dir).lexically_normal().string() + " (" +
                  std::to_string(p.scheduler->queued()) + " messages waiting)");
  for (const auto& u : c.upstreams) lines.push_back("delivering through " + describe(u));
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
    return;
  }
  timer->expires_after(std::chrono::milliseconds(50));
  timer->async_wait([this, timer, deadline](boost::system::error_code) { wait_for_drain(timer, deadline); });
}

void Relay::Parts::shutdown() {
  if (stopping) return;
  stopping = true;
  spdlog::info("shutting down: no new connections; open sessions may finish for up to {}s", kDrain.count());
  server->stop(kDrain);
  admin->stop();
  auto timer = std::make_shared<asio::steady_timer>(io);
  wait_for_drain(timer, std::chrono::steady_clock::now() + kDrain + std::chrono::seconds(15));
}

void Relay::Parts::reload() {
  if (config->source_path.empty() || config->source_path.front() == '(') {
    spdlog::info("SIGHUP: the embedded default has no file to reload");
    return;
  }
  auto result = conf::load_file(config->source_path);
  if (!result.ok()) {
    spdlog::error("SIGHUP: configuration {} refused, keeping the running one ({} errors):", config->source_path,
                  result.errors.size());
    for (const auto& e : result.errors) spdlog::error("  {}", e.to_string());
    return;
  }
  ops::set_redactions(result.config->secrets);
  server->update(server_options(*result.config, tls != nullptr, hostname));
  config = result.config;
  spdlog::info("SIGHUP: configuration reloaded (sha256={}); new sessions use it", config->sha256);
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
  // The admin socket first: once SMTP answers, `smarthost queue` finds the running relay.
  if (auto ec = p.admin->start())
    spdlog::warn("queue admin socket {}: {}; `smarthost queue` cannot reach this relay", p.admin->path().string(),
                 ec.message());
  p.server->start();
  p.scheduler->start();
  for (const auto& line : banner()) spdlog::info("{}", line);
  p.signals.add(SIGTERM);
  p.signals.add(SIGINT);
  p.signals.add(SIGHUP);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      p.reload();
    } else {
      p.shutdown();
    }
    p.signals.async_wait(on_signal);
  };
  p.signals.async_wait(on_signal);

  unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { p.io.run(); });
  p.io.run();
  for (auto& t : pool) t.join();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace smarthost::app
