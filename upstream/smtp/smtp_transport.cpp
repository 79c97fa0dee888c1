// The SMTP transport (see the header): configuration into connection settings, a strand, the pool, batches.
#include "upstream/smtp/smtp_transport.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>
#include <stdexcept>

#include "upstream/smtp/connection_pool.h"
#include "upstream/smtp/tls_context.h"

namespace smarthost::upstream::smtp {

namespace asio = boost::asio;

namespace {

// "host:port", "[v6]:port" or "host" (keeps `port`).
void apply_endpoint(const std::string& endpoint, std::string& host, uint16_t& port) {
  if (endpoint.empty()) return;
  std::string_view e = endpoint;
  std::string_view port_text;
  if (e.starts_with('[')) {
    size_t close = e.find(']');
    host = std::string(e.substr(1, close - 1));
    if (close + 1 < e.size() && e[close + 1] == ':') port_text = e.substr(close + 2);
  } else if (size_t colon = e.rfind(':'); colon != std::string_view::npos && e.find(':') == colon) {
    host = std::string(e.substr(0, colon));
    port_text = e.substr(colon + 1);
  } else {
    host = endpoint;
  }
  uint16_t p = 0;
  if (!port_text.empty() &&
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), p).ec == std::errc{} && p != 0) {
    port = p;
  }
}

DeliveryResult failed_result(const OutboundMessage& message, const SessionFailure& failure) {
  DeliveryResult r;
  r.outcome = failure.classification.outcome;
  r.reply = failure.reply.to_string();
  r.upstream_unhealthy = failure.classification.upstream_unhealthy;
  r.throttled = failure.classification.throttled;
  for (const auto& rcpt : message.envelope.recipients) r.recipients.push_back({rcpt.address, r.outcome, r.reply});
  return r;
}

}  // namespace

struct SmtpTransport::State {
  std::string name;
  asio::strand<asio::any_io_executor> strand;
  std::shared_ptr<ConnectionPool> pool;
  // What probe() needs to open a session of its own, outside the pool.
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<const ConnectionSettings> settings;
  std::shared_ptr<TokenSource> tokens;

  explicit State(asio::any_io_executor executor) : strand(asio::make_strand(std::move(executor))) {}

  // Runs on the strand.
  asio::awaitable<std::vector<DeliveryResult>> send_all(std::span<const OutboundMessage> batch) {
    std::vector<DeliveryResult> results;
    results.reserve(batch.size());
    std::shared_ptr<SmtpConnection> connection;
    std::optional<SessionFailure> no_session;  // once no session can be had, the rest of the batch fails alike
    for (const auto& message : batch) {
      if (no_session) {
        results.push_back(failed_result(message, *no_session));
        continue;
      }
      // A session reused without RSET (the last one of this batch, or an idle one used moments ago) may have
      // been closed by the upstream meanwhile; when it turns out so before the message got its 354, nothing was
      // delivered and the message goes on another session. Each such retry uses up a session, so this ends.
      std::optional<DeliveryResult> result;
      while (!result) {
        bool unprobed = false;
        if (connection && connection->clean()) {
          unprobed = true;
        } else if (connection && !co_await connection->probe()) {
          pool->release(std::move(connection));  // broken: the pool closes it, the next message gets a new one
          connection.reset();
        }
        if (!connection) {
          Lease lease = co_await pool->acquire();
          if (!lease.connection) {
            spdlog::warn("smtp upstream={} qid={} no session: {}", name, message.queue_id,
                         lease.failure->reply.to_string());
            result = failed_result(message, *lease.failure);
            no_session = std::move(lease.failure);
            break;
          }
          connection = std::move(lease.connection);
          unprobed = lease.unprobed;
        }
        DeliveryResult sent = co_await connection->send(message);
        const bool again = unprobed && connection->lost_before_data();
        if (!connection->usable()) {
          pool->release(std::move(connection));
          connection.reset();
        }
        if (again) {
          spdlog::debug("smtp upstream={} qid={} reused session was closed ({}); sending on another", name,
                        message.queue_id, sent.reply);
          continue;
        }
        result = std::move(sent);
      }
      results.push_back(std::move(*result));
    }
    if (connection) pool->release(std::move(connection));
    co_return results;
  }

  // Runs on the strand: a fresh session (connect, EHLO, STARTTLS, AUTH), then QUIT. Each step waits `timeout`.
  asio::awaitable<ProbeResult> probe_once(std::chrono::milliseconds timeout) {
    auto probe_settings = std::make_shared<ConnectionSettings>(*settings);
    probe_settings->timeout = std::min(probe_settings->timeout, timeout);
    probe_settings->connect_timeout = std::min(probe_settings->connect_timeout, timeout);
    auto connection = std::make_shared<SmtpConnection>(strand, tls, probe_settings, tokens);
    std::optional<SessionFailure> failure = co_await connection->open();
    if (failure) {
      connection->close();
      co_return ProbeResult{false, failure->reply.to_string()};
    }
    co_await connection->quit();
    std::string steps = "EHLO";
    if (probe_settings->implicit_tls) steps = "TLS, EHLO";
    if (probe_settings->require_tls) steps += ", STARTTLS";
    if (!probe_settings->username.empty() || probe_settings->oauth2) steps += ", AUTH";
    co_return ProbeResult{true, probe_settings->host + ":" + std::to_string(probe_settings->port) + " " + steps + " ok"};
  }
};

SmtpTransport::SmtpTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                             const conf::ConnectionPoolConfig& pool, const conf::AuthenticationConfig& authentication,
                             std::string local_hostname, asio::any_io_executor executor, SmtpTransportHooks hooks)
    : state_(std::make_shared<State>(std::move(executor))) {
  const auto* smtp = std::get_if<conf::SmtpConfig>(&upstream.config);
  if (!smtp) throw std::invalid_argument("SmtpTransport needs an smtp upstream: " + upstream.name);
  state_->name = upstream.name;

  auto settings = std::make_shared<ConnectionSettings>();
  settings->upstream_name = upstream.name;
  settings->host = smtp->host;
  settings->port = smtp->port;
  apply_endpoint(upstream.common.endpoint, settings->host, settings->port);
  settings->implicit_tls = smtp->use_ssl;
  settings->require_tls = smtp->use_tls && !smtp->use_ssl;
  settings->verify_certificates = security.verify_certificates;
  settings->timeout = smtp->timeout;
  settings->connect_timeout = std::min<std::chrono::milliseconds>(pool.connection_timeout, smtp->timeout);
  settings->debug_level = smtp->debug_level;
  settings->chunking = smtp->chunking;
  settings->local_hostname = smtp->local_hostname.empty() ? local_hostname : smtp->local_hostname;
  settings->username = smtp->username;
  settings->password = smtp->password;
  settings->oauth2 = authentication.type == "oauth2";
  settings->identity = SenderIdentity::from_config(upstream.common);
  settings->return_path = smtp->return_path;

  auto tls = make_client_tls_context(security);
  std::shared_ptr<TokenSource> tokens = hooks.token_source;
  if (!tokens && settings->oauth2) {
    tokens = make_oauth_token_source(state_->strand, authentication, security, smtp->timeout, hooks.clock);
  }
  state_->tls = tls;
  state_->settings = settings;
  state_->tokens = tokens;

  PoolLimits limits;
  limits.max_connections = upstream.options.connection_pool_size.value_or(pool.max_connections);
  limits.max_idle_connections = pool.max_idle_connections;
  limits.idle_timeout = pool.idle_timeout;
  limits.probe_after_idle = hooks.probe_after_idle;
  limits.wait_timeout = std::max<std::chrono::milliseconds>(pool.connection_timeout, smtp->timeout * 2);
  auto strand = state_->strand;
  state_->pool = std::make_shared<ConnectionPool>(
      strand, limits, [strand, tls, settings = std::shared_ptr<const ConnectionSettings>(settings), tokens] {
        return std::make_shared<SmtpConnection>(strand, tls, settings, tokens);
      });
}

SmtpTransport::~SmtpTransport() {
  auto state = state_;
  asio::dispatch(state->strand, [state] { state->pool->shutdown(); });
}

const std::string& SmtpTransport::name() const { return state_->name; }

const PoolStats& SmtpTransport::pool_stats() const { return state_->pool->stats(); }

asio::awaitable<ProbeResult> SmtpTransport::probe(std::chrono::milliseconds timeout) {
  auto state = state_;
  co_return co_await asio::co_spawn(state->strand, state->probe_once(timeout), asio::use_awaitable);
}

asio::awaitable<DeliveryResult> SmtpTransport::deliver(const OutboundMessage& message) {
  auto results = co_await deliver_batch(std::span<const OutboundMessage>(&message, 1));
  co_return std::move(results.front());
}

asio::awaitable<std::vector<DeliveryResult>> SmtpTransport::deliver_batch(std::span<const OutboundMessage> batch) {
  if (batch.empty()) co_return std::vector<DeliveryResult>{};
  auto state = state_;
  // The pool and its sessions live on the transport's strand; the caller's coroutine waits for the result.
  // `state` (held by this frame until the batch is done) keeps the pool alive. The awaitable is passed directly:
  // GCC 12 destroys the captures of a lambda handed to co_spawn twice.
  co_return co_await asio::co_spawn(state->strand, state->send_all(batch), asio::use_awaitable);
}

}  // namespace smarthost::upstream::smtp
