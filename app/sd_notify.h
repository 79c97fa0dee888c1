// systemd's notify protocol, without libsystemd: READY=1, RELOADING=1, STOPPING=1, STATUS=... and WATCHDOG=1 sent
// as datagrams to $NOTIFY_SOCKET. Outside systemd (no NOTIFY_SOCKET) every call does nothing and says so.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace smarthost::app {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once, then unsets them so that no child inherits them.
  SystemdNotifier();

  bool active() const { return !socket_path_.empty(); }
  // Sends one state, e.g. "READY=1\nSTATUS=accepting mail". Never throws; false when nothing was sent.
  bool notify(std::string_view state) const;
  // "RELOADING=1" with the MONOTONIC_USEC that systemd asks for (harmless where it does not).
  bool reloading(std::string_view status) const;
  // How often to send WATCHDOG=1: half of WatchdogSec when systemd watches this process, else nothing.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  std::string socket_path_;  // "@name" for the abstract namespace
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace smarthost::app
