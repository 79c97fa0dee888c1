// One SMTP connection as a coroutine: reads command lines and DATA/BDAT bodies, writes the Session's replies,
// runs STARTTLS or implicit TLS, and streams accepted messages into the MessageSink. Every wait has a deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <atomic>
#include <functional>
#include <memory>

#include "smtpd/server.h"

namespace smarthost::smtpd {

// Shared between the server and a connection: lets the server ask an idle session to close during shutdown.
// Shutdown has two stages: first idle sessions are told 421 4.3.2 while message bodies keep streaming; once the
// drain time is over, everything still open is cut off.
struct ConnectionControl {
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> drain_expired{false};
  std::function<void()> cancel_io;  // set by the connection; posts the cancellation to the connection's strand
};

struct ConnectionContext {
  std::shared_ptr<const ServerOptions> options;
  SessionPolicy* policy = nullptr;
  MessageSink* sink = nullptr;
  std::shared_ptr<boost::asio::ssl::context> tls;
  ClientInfo client;
  uint64_t session_id = 0;
  std::shared_ptr<ConnectionControl> control;
  std::function<void(bool accepted)> on_message;  // counts accepted / rejected messages
  std::function<void(bool ok)> on_tls;            // counts TLS handshakes
};

// Runs a session on a TCP socket; with `implicit_tls` the TLS handshake comes first (RFC 8314).
boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket, ConnectionContext context,
                                              bool implicit_tls);
// Runs a session on a unix-domain socket.
boost::asio::awaitable<void> serve_connection(boost::asio::local::stream_protocol::socket socket,
                                              ConnectionContext context);

}  // namespace smarthost::smtpd
