// Raw SMTP test client over a blocking socket with poll() deadlines and optional OpenSSL.
#include "tests/support/smtp_wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace smarthost::test {

SmtpWire::SmtpWire(int port, bool implicit_tls) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  if (implicit_tls && !start_tls()) {
    ::close(fd_);
    fd_ = -1;
  }
}

SmtpWire::~SmtpWire() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool SmtpWire::send(std::string_view bytes) {
  while (!bytes.empty()) {
    long n = ssl_ ? SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                  : ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0 && ssl_ && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_WRITE) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      continue;
    }
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

long SmtpWire::read_some(char* buf, size_t len, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ssl_) {
      // The socket is non-blocking under TLS: records that carry no data (session tickets) must not block us.
      int n = SSL_read(ssl_, buf, static_cast<int>(len));
      if (n > 0) return n;
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return -1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -2;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0) return -1;
    if (ready == 0) return -2;
    if (!ssl_) return ::recv(fd_, buf, len, 0);
  }
}

std::string SmtpWire::reply(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // A complete reply: lines up to one whose 4th character is a space.
    size_t start = 0;
    for (;;) {
      size_t nl = buf_.find('\n', start);
      if (nl == std::string::npos) break;
      if (nl - start >= 4 && buf_[start + 3] == ' ') {
        std::string r = buf_.substr(0, nl + 1);
        buf_.erase(0, nl + 1);
        return r;
      }
      if (nl - start < 4) {  // malformed short line: return it as is
        std::string r = buf_.substr(0, nl + 1);
        buf_.erase(0, nl + 1);
        return r;
      }
      start = nl + 1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    char tmp[8192];
    long n = read_some(tmp, sizeof tmp, left);
    if (n <= 0) return "";
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::string SmtpWire::command(std::string_view line) {
  send(std::string(line) + "\r\n");
  return reply();
}

bool SmtpWire::start_tls() {
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  buf_.clear();
  bool ok = SSL_connect(ssl_) == 1;
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  return ok;
}

std::string SmtpWire::drain(std::chrono::milliseconds timeout) {
  std::string all = buf_;
  buf_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    char tmp[8192];
    long n = read_some(tmp, sizeof tmp, left);
    if (n <= 0) break;
    all.append(tmp, static_cast<size_t>(n));
  }
  return all;
}

bool SmtpWire::closed_by_peer(std::chrono::milliseconds timeout) {
  char tmp[256];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    long n = read_some(tmp, sizeof tmp, left);
    if (n == 0 || n == -1) return true;
    if (n == -2) return false;
  }
}

int reply_code(std::string_view reply) {
  if (reply.empty()) return 0;
  auto end = reply.find_last_not_of("\r\n");
  if (end == std::string_view::npos) return 0;
  auto start = reply.rfind('\n', end);
  start = start == std::string_view::npos ? 0 : start + 1;
  if (end - start < 2) return 0;
  return std::atoi(std::string(reply.substr(start, 3)).c_str());
}

}  // namespace smarthost::test
