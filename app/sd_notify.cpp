// The notify protocol: one AF_UNIX datagram per state change, to a path or an abstract socket ("@..."). The
// watchdog is on only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) names this process.
#include "app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace smarthost::app {

SystemdNotifier::SystemdNotifier() {
  if (const char* path = std::getenv("NOTIFY_SOCKET"); path && *path && std::strlen(path) < sizeof(sockaddr_un{}.sun_path)) {
    if (path[0] == '/' || path[0] == '@') socket_path_ = path;
  }
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec && *usec && (!pid || !*pid || std::atol(pid) == ::getpid())) {
    long long value = std::atoll(usec);
    if (value > 0) watchdog_ = std::chrono::microseconds(value / 2);
  }
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
}

bool SystemdNotifier::notify(std::string_view state) const {
  if (socket_path_.empty()) return false;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  if (socket_path_[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  } else {
    len += 1;
  }
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

bool SystemdNotifier::reloading(std::string_view status) const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  long long usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=" + std::string(status));
}

}  // namespace smarthost::app
