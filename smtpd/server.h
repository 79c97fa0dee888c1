// The SMTP listener: binds TCP, implicit-TLS and unix listeners (or takes systemd's), enforces connection limits,
// and runs one connection coroutine per client on its own strand. Protocol decisions belong to Session.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smtpd/session.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace smarthost::smtpd {

class MessageSink;

struct ServerOptions {
  std::vector<std::string> listen{"127.0.0.1:25"};  // "host:port", "[v6]:port", "unix:/path"
  std::vector<std::string> listen_tls;
  uint32_t max_connections = 1000;
  uint32_t max_connections_per_ip = 50;
  std::chrono::seconds command_timeout{300};
  std::chrono::seconds data_timeout{600};
  bool take_systemd_sockets = true;  // adopt LISTEN_FDS descriptors (plain SMTP; names "smtps"/"submissions" = TLS)
  SessionSettings session;
  // Set by a reload (reconfigure()): the access policy for new connections. The sessions that use it keep it
  // alive. Null: the policy given to the constructor.
  std::shared_ptr<SessionPolicy> policy;
};

// Counters the server keeps, read by ops/ for metrics.
struct ServerStats {
  uint64_t connections_total = 0;
  uint64_t connections_refused = 0;  // over a connection limit
  uint64_t connections_current = 0;
  uint64_t tls_handshakes = 0;
  uint64_t tls_failures = 0;
  uint64_t messages_accepted = 0;
  uint64_t messages_rejected = 0;
};

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, SessionPolicy& policy, MessageSink& sink,
         std::shared_ptr<boost::asio::ssl::context> tls);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts accepting. Throws std::runtime_error naming the address on failure.
  void start();
  // Stops accepting. Open sessions may finish their transaction until `drain` passes; then they get
  // "421 4.3.2 Service shutting down". Returns at once; `connections()` tells when they are gone.
  void stop(std::chrono::seconds drain);
  // Settings for new connections (a configuration reload); open sessions keep theirs.
  void update(ServerOptions options);
  // A configuration reload: binds the listeners of `options` that are new, closes the ones no longer listed (their
  // open sessions finish on their own), then uses `options` and `tls` for new connections. When a new listener
  // cannot be bound, nothing changes, and false comes back with the reason in `error`. Listeners adopted from
  // systemd stay as they are. Call it after start(), from any thread.
  bool reconfigure(ServerOptions options, std::shared_ptr<boost::asio::ssl::context> tls, std::string& error);

  // Where it listens, e.g. "127.0.0.1:2525", "[::1]:25 (tls)", "unix:/run/smarthost.sock".
  std::vector<std::string> endpoints() const;
  size_t connections() const;
  ServerStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace smarthost::smtpd
