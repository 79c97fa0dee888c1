// One SMTP connection as a coroutine: reads command lines and DATA/BDAT bodies, writes the Session's replies,
// runs STARTTLS or implicit TLS, and streams accepted messages into the MessageSink. Every wait has a deadline.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "smtpd/server.h"

namespace smarthost::smtpd {

// Shared between the server and a connection: lets the server ask an idle session to close during shutdown.
// Shutdown has two stages: first idle sessions are told 421 4.3.2 while message bodies keep streaming; once the
// drain time is over, everything still open is cut off.
// The flags are set before the cancellation is posted, and a connection checks them on its strand before each read
// it starts, so a cancellation that lands between two reads is never lost.
struct ConnectionControl {
  std::atomic<bool> shutting_down{false};
  std::atomic<bool> drain_expired{false};

  // Set by the connection on its strand, called by the server from another thread.
  void set_cancel(std::function<void()> cancel) {
    std::lock_guard lock(mutex_);
    cancel_io_ = std::move(cancel);
  }
  void cancel() {
    std::function<void()> f;
    {
      std::lock_guard lock(mutex_);
      f = cancel_io_;
    }
    if (f) f();
  }

 private:
  std::mutex mutex_;
  std::function<void()> cancel_io_;  // posts the cancellation to the connection's strand
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
