// A small blocking SMTP client for submissions to our own listener: EHLO, MAIL, RCPT, DATA with dot-stuffing.
#include "app/local_submit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "conf/config.h"
#include "smtpd/listen_address.h"

namespace smarthost::app {
namespace {

class Line {
 public:
  Line(int fd, std::chrono::seconds timeout) : fd_(fd), timeout_ms_(static_cast<int>(timeout.count() * 1000)) {}

  bool send(std::string_view data) {
    while (!data.empty()) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, timeout_ms_) <= 0) return false;
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one (possibly multi-line) reply; returns its code, 0 on failure. `text` gets the last line.
  int reply(std::string& text) {
    for (;;) {
      size_t nl;
      while ((nl = buf_.find('\n')) == std::string::npos) {
        if (buf_.size() > 65536) return 0;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms_) <= 0) return 0;
        char tmp[4096];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return 0;
        buf_.append(tmp, static_cast<size_t>(n));
      }
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() < 3) return 0;
      if (line.size() > 3 && line[3] == '-') continue;
      text = line;
      return std::atoi(line.substr(0, 3).c_str());
    }
  }

 private:
  int fd_;
  int timeout_ms_;
  std::string buf_;
};

SubmitResult::Status status_of(int code) {
  if (code >= 200 && code < 400) return SubmitResult::Status::accepted;
  if (code >= 400 && code < 500) return SubmitResult::Status::temporary;
  if (code >= 500) return SubmitResult::Status::permanent;
  return SubmitResult::Status::unreachable;
}

std::string dot_stuff(const std::string& content) {
  std::string out;
  out.reserve(content.size() + content.size() / 50 + 8);
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace

int connect_local(const std::string& address, std::chrono::seconds timeout) {
  auto a = smtpd::parse_listen_address(address);
  if (!a) return -1;
  int fd = -1;
  if (a->unix_socket) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (a->path.size() >= sizeof sun.sun_path) {
      ::close(fd);
      return -1;
    }
    std::strcpy(sun.sun_path, a->path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  std::string host = a->host == "0.0.0.0" ? "127.0.0.1" : a->host == "::" ? "::1" : a->host;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (host.find(':') != std::string::npos) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a->port);
    if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) != 1) return -1;
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a->port);
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) != 1) return -1;
    len = sizeof *s4;
  }
  fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t elen = sizeof err;
    if (::poll(&p, 1, static_cast<int>(timeout.count() * 1000)) == 1 &&
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0) {
      rc = 0;
    }
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

SubmitResult submit_local(const std::string& address, const std::string& sender,
                          const std::vector<std::string>& recipients, const std::string& content,
                          std::chrono::seconds timeout) {
  SubmitResult r;
  int fd = connect_local(address, std::chrono::seconds(5));
  if (fd < 0) {
    r.reply = "cannot connect to " + address + ": " + std::strerror(errno);
    return r;
  }
  Line line(fd, timeout);
  auto fail = [&](int code, const std::string& text) {
    r.status = code == 0 ? SubmitResult::Status::unreachable : status_of(code);
    if (r.status == SubmitResult::Status::accepted) r.status = SubmitResult::Status::temporary;
    r.reply = code == 0 ? "connection to " + address + " lost" : text;
    line.send("QUIT\r\n");
    ::close(fd);
    return r;
  };
  std::string text;
  int code = line.reply(text);
  if (code != 220) return fail(code, text);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  if (!line.send(std::string("EHLO ") + host + "\r\n") || (code = line.reply(text)) != 250) return fail(code, text);
  if (!line.send("MAIL FROM:<" + sender + ">\r\n") || (code = line.reply(text)) != 250) return fail(code, text);
  for (const auto& rcpt : recipients) {
    if (!line.send("RCPT TO:<" + rcpt + ">\r\n")) return fail(0, "");
    code = line.reply(text);
    if (code < 200 || code >= 300) return fail(code, "<" + rcpt + ">: " + text);
  }
  if (!line.send("DATA\r\n") || (code = line.reply(text)) != 354) return fail(code, text);
  if (!line.send(dot_stuff(content))) return fail(0, "");
  code = line.reply(text);
  if (code != 250) return fail(code, text);
  r.status = SubmitResult::Status::accepted;
  r.reply = text;
  if (auto p = text.find("queued as "); p != std::string::npos) r.queue_id = text.substr(p + 10);
  line.send("QUIT\r\n");
  line.reply(text);
  ::close(fd);
  return r;
}

std::string submit_address(const conf::Config& config) {
  for (const auto& l : config.server.listen)
    if (l.rfind("unix:", 0) == 0) return l;
  std::string a = config.server.listen.empty() ? "127.0.0.1:25" : config.server.listen.front();
  if (a.rfind("0.0.0.0:", 0) == 0) a = "127.0.0.1:" + a.substr(8);
  if (a.rfind("*:", 0) == 0) a = "127.0.0.1:" + a.substr(2);
  if (a.rfind("[::]:", 0) == 0) a = "[::1]:" + a.substr(5);
  return a;
}

std::string local_hostname(const conf::Config& config) {
  if (!config.server.hostname.empty()) return config.server.hostname;
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace smarthost::app
