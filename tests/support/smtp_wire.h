// A raw SMTP client for tests: sends exact bytes (smuggling sequences, pipelined commands), reads replies with a
// deadline, and can switch to TLS (OpenSSL) in the middle, as STARTTLS does.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace smarthost::test {

class SmtpWire {
 public:
  // Connects to 127.0.0.1:port; with `implicit_tls` the TLS handshake comes first.
  explicit SmtpWire(int port, bool implicit_tls = false);
  ~SmtpWire();
  SmtpWire(const SmtpWire&) = delete;
  SmtpWire& operator=(const SmtpWire&) = delete;

  bool connected() const { return fd_ >= 0; }
  int native_handle() const { return fd_; }  // the client's socket, for getsockname() and socket options
  // Sends bytes exactly as given.
  bool send(std::string_view bytes);
  // Reads one complete reply (all its lines). Empty on timeout or close.
  std::string reply(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends a command line (CRLF added) and returns the reply.
  std::string command(std::string_view line);
  // Starts TLS on the connection (after a 220 to STARTTLS). False when the handshake fails.
  bool start_tls();
  // Everything that arrives until the peer closes or `timeout` passes.
  std::string drain(std::chrono::milliseconds timeout = std::chrono::milliseconds(500));
  // True when the server has closed the connection (EOF within `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(2));

 private:
  long read_some(char* buf, size_t len, std::chrono::milliseconds timeout);
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

// The three-digit code at the start of a reply's last line (0 when none).
int reply_code(std::string_view reply);

}  // namespace smarthost::test
