// The `smtp` upstream: implements upstream::Transport over a pool of SMTP sessions (connection_pool.h) with TLS,
// AUTH (PLAIN, LOGIN, XOAUTH2 with refreshing tokens) and the configured sender identity. Built by the factory.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "conf/config.h"
#include "upstream/smtp/pool_stats.h"
#include "upstream/smtp/token_source.h"
#include "upstream/transport.h"

namespace smarthost::upstream::smtp {

// Test seams; production code leaves them empty.
struct SmtpTransportHooks {
  SteadyClock clock;                           // the clock for OAuth2 token expiry
  std::shared_ptr<TokenSource> token_source;   // replaces the [authentication] token source
  std::chrono::milliseconds probe_after_idle{5000};  // PoolLimits::probe_after_idle
};

class SmtpTransport final : public Transport {
 public:
  // `upstream.config` must hold an SmtpConfig. `local_hostname` is used for EHLO when the upstream's
  // local_hostname is empty. Throws std::runtime_error on a bad TLS set-up (ca_file), at start-up only.
  SmtpTransport(const conf::Upstream& upstream, const conf::SecurityConfig& security,
                const conf::ConnectionPoolConfig& pool, const conf::AuthenticationConfig& authentication,
                std::string local_hostname, boost::asio::any_io_executor executor, SmtpTransportHooks hooks = {});
  ~SmtpTransport() override;

  // Never throws for remote failures. Safe to call concurrently from any executor.
  boost::asio::awaitable<DeliveryResult> deliver(const OutboundMessage& message) override;
  // Sends the whole batch over one connection (RSET between messages only after a transaction that did not end
  // with its data); a broken connection is replaced.
  boost::asio::awaitable<std::vector<DeliveryResult>> deliver_batch(std::span<const OutboundMessage> batch) override;
  const std::string& name() const override;
  // A session of its own (never a pooled one): connect, EHLO, STARTTLS where configured, AUTH, QUIT.
  boost::asio::awaitable<ProbeResult> probe(std::chrono::milliseconds timeout) override;

  // Pool counters, for metrics and tests (read on the transport's strand, or when the event loop is idle).
  const PoolStats& pool_stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace smarthost::upstream::smtp
