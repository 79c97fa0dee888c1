// One SMTP session to an upstream relay on Asio: TCP with TCP_NODELAY, implicit TLS or STARTTLS, AUTH (XOAUTH2
// tokens from a TokenSource), then any number of messages. Every wait has a deadline. It only drives
// ClientProtocol: every decision about replies is made there and in the classifier.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "upstream/header_rewrite.h"
#include "upstream/smtp/client_protocol.h"
#include "upstream/smtp/token_source.h"
#include "upstream/transport.h"

namespace boost::asio::ssl {
class context;
}

namespace smarthost::upstream::smtp {

struct ConnectionSettings {
  std::string upstream_name;  // for logs
  std::string host;
  uint16_t port = 587;
  bool implicit_tls = false;  // use_ssl
  bool require_tls = false;   // use_tls: STARTTLS, no plaintext fallback
  bool verify_certificates = true;
  std::chrono::milliseconds timeout{30000};          // each read and write
  std::chrono::milliseconds connect_timeout{30000};  // name resolution, TCP connect, TLS handshake
  int debug_level = 0;  // 1: log the protocol trace (AUTH masked); 2: also TLS details
  std::string local_hostname;
  std::string username;
  std::string password;
  bool oauth2 = false;
  bool allow_plaintext_auth = false;  // derived: true only for loopback upstreams
  SenderIdentity identity;
  std::string return_path;  // overrides the envelope sender when set
  bool chunking = true;     // BDAT when the server offers CHUNKING and PIPELINING
};

class SmtpConnection {
 public:
  SmtpConnection(boost::asio::any_io_executor executor, std::shared_ptr<boost::asio::ssl::context> tls,
                 std::shared_ptr<const ConnectionSettings> settings, std::shared_ptr<TokenSource> tokens);
  ~SmtpConnection();
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  // Connects and sets the session up (greeting, EHLO, TLS, AUTH). Empty on success, else why it failed.
  boost::asio::awaitable<std::optional<SessionFailure>> open();
  // Sends one message on a ready session; recipients refused with "452 4.5.3 too many recipients" follow in
  // further transactions. Never throws; every outcome is in the result.
  boost::asio::awaitable<DeliveryResult> send(const OutboundMessage& message);
  // RSET: true when the session answered 250 and is ready for another message.
  boost::asio::awaitable<bool> probe();
  // QUIT, then close. Safe on a broken session.
  boost::asio::awaitable<void> quit();
  // Closes the socket at once.
  void close();

  bool usable() const;
  // Usable, and no transaction open on the server: the next message needs no RSET first.
  bool clean() const;
  // The last send() ended with the session lost (dropped, timed out, 421) before its message got a 354: nothing
  // of it can have been delivered, so it may go again on another session.
  bool lost_before_data() const { return lost_before_data_; }
  uint64_t messages_sent() const { return messages_; }
  uint64_t id() const { return id_; }
  std::chrono::steady_clock::time_point idle_since{};

 private:
  struct Io;
  boost::asio::awaitable<DeliveryResult> send_transaction(const OutboundMessage& message);
  boost::asio::awaitable<Next> drive(Step step);
  // Sends the message after DATA's 354, or with `chunk` as one BDAT chunk behind the transaction's commands.
  boost::asio::awaitable<std::string> stream_body(const OutboundMessage& message, const std::string& header,
                                                  uint64_t body_offset, bool chunk);
  void flush_trace();

  std::shared_ptr<Io> io_;
  std::shared_ptr<const ConnectionSettings> settings_;
  std::shared_ptr<TokenSource> tokens_;
  ClientProtocol protocol_;
  std::string chunk_commands_;  // MAIL and RCPT held back to go out with a BDAT chunk
  uint64_t messages_ = 0;
  uint64_t id_ = 0;
  bool closed_ = false;
  bool lost_before_data_ = false;
};

}  // namespace smarthost::upstream::smtp
