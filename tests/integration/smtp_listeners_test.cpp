// Listener kinds of the real server: IPv6, a unix-domain socket (swaks --socket), and systemd socket activation
// (LISTEN_FDS), where the relay takes over a socket bound by its parent instead of binding its own. Accepted TCP
// connections have Nagle's algorithm off, inherited from the listener (read out of the relay with pidfd_getfd).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/support/relay.h"
#include "tests/support/smtp_wire.h"

using namespace smarthost::test;

namespace {

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// TCP_NODELAY on the relay's end of `wire`'s connection: the socket whose peer is the wire's local port is found
// in /proc/<pid>/net/tcp and /proc/<pid>/fd, copied out with pidfd_getfd() (the relay is our child, so ptrace
// rules allow it) and asked. nullopt with `why` set when the kernel or its rules do not allow that.
std::optional<bool> relay_side_nodelay(pid_t pid, const SmtpWire& wire, std::string& why) {
  sockaddr_in local{};
  socklen_t len = sizeof local;
  if (::getsockname(wire.native_handle(), reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    why = "getsockname failed";
    return std::nullopt;
  }
  char peer[16];
  std::snprintf(peer, sizeof peer, ":%04X", ntohs(local.sin_port));
  std::ifstream table("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line, inode;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string sl, local_address, remote_address, skip;
    fields >> sl >> local_address >> remote_address;
    if (!remote_address.ends_with(peer)) continue;
    for (int i = 0; i < 6; ++i) fields >> skip;  // st, queues, tr, retrnsmt, uid, timeout
    fields >> inode;
    break;
  }
  if (inode.empty()) {
    why = "the connection is not in /proc/" + std::to_string(pid) + "/net/tcp";
    return std::nullopt;
  }
  int target = -1;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string() == "socket:[" + inode + "]")
      target = std::stoi(entry.path().filename().string());
  }
  if (target < 0) {
    why = "no descriptor of the relay holds socket " + inode;
    return std::nullopt;
  }
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  int copy = pidfd < 0 ? -1 : static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
  if (pidfd >= 0) ::close(pidfd);
  if (copy < 0) {
    why = std::string("pidfd_getfd: ") + std::strerror(errno);
    return std::nullopt;
  }
  int value = 0;
  socklen_t size = sizeof value;
  bool ok = ::getsockopt(copy, IPPROTO_TCP, TCP_NODELAY, &value, &size) == 0;
  ::close(copy);
  if (!ok) {
    why = "getsockopt failed";
    return std::nullopt;
  }
  return value != 0;
}

}  // namespace

TEST(SmtpListeners, AcceptedConnectionsHaveNagleOff) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  EXPECT_EQ(reply_code(wire.reply()), 220);
  std::string why;
  auto nodelay = relay_side_nodelay(relay.pid(), wire, why);
  if (!nodelay && why.starts_with("pidfd_getfd")) GTEST_SKIP() << why;  // e.g. a kernel before 5.6
  ASSERT_TRUE(nodelay) << why;
  EXPECT_TRUE(*nodelay) << "replies must not wait for the client's delayed ACK";
  EXPECT_EQ(reply_code(wire.command("QUIT")), 221);
}

TEST(SmtpListeners, UnixSocketAndIpv6) {
  TempDir sockets;
  std::string sock = (sockets.path() / "smtp.sock").string();
  bool v6 = ipv6_loopback_available();
  int v6_port = free_port();
  RelayOptions o;
  o.extra_listen.push_back("unix:" + sock);
  if (v6) o.extra_listen.push_back("[::1]:" + std::to_string(v6_port));
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();

  auto via_unix = run({"swaks", "--socket", sock, "--to", "unix@example.net", "--from", "a@example.org"});
  EXPECT_EQ(via_unix.exit_code, 0) << via_unix.out << via_unix.err;
  size_t expected = 1;
  if (v6) {
    auto via_v6 = run({"curl", "-sS", "--max-time", "10", "--url", "smtp://[::1]:" + std::to_string(v6_port),
                       "--mail-from", "a@example.org", "--mail-rcpt", "v6@example.net", "-T", "-"},
                      "Subject: over IPv6\r\n\r\nhello\r\n");
    EXPECT_EQ(via_v6.exit_code, 0) << via_v6.err;
    ++expected;
  }
  ASSERT_TRUE(relay.wait_delivered(expected)) << relay.log();
  bool unix_seen = false;
  for (const auto& f : relay.delivered(".json"))
    if (read_file(f).find("\"client_address\":\"unix\"") != std::string::npos) unix_seen = true;
  EXPECT_TRUE(unix_seen);
}

TEST(SmtpListeners, SystemdSocketActivation) {
  Relay relay;  // its config listens on relay.port(); systemd's socket must win over it
  int activated_port = free_port();
  // A parent that binds the socket, puts it on fd 3 and execs the relay with LISTEN_PID/LISTEN_FDS, as systemd does.
  std::string script =
      "import os, socket, sys\n"
      "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
      "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)\n"
      "os.dup2(s.fileno(), 3); os.set_inheritable(3, True)\n"
      "os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'\n"
      "os.environ['LISTEN_FDNAMES'] = 'smtp'\n"
      "os.execv(sys.argv[2], [sys.argv[2], 'serve', '--config', sys.argv[3]])\n";
  Process activated({python3(), "-c", script, std::to_string(activated_port), smarthost_bin().string(),
                     relay.config_path().string()},
                    {}, (relay.dir() / "activated.log").string());
  ASSERT_TRUE(wait_for_port(activated_port)) << read_file(relay.dir() / "activated.log");
  SmtpWire wire(activated_port);
  EXPECT_EQ(reply_code(wire.reply()), 220);
  EXPECT_EQ(reply_code(wire.command("EHLO activated.example")), 250);
  // systemd's socket gets TCP_NODELAY like one the relay binds itself.
  std::string why;
  auto nodelay = relay_side_nodelay(activated.pid(), wire, why);
  if (nodelay || !why.starts_with("pidfd_getfd")) {
    ASSERT_TRUE(nodelay) << why;
    EXPECT_TRUE(*nodelay);
  }
  EXPECT_EQ(reply_code(wire.command("QUIT")), 221);
  // It did not bind the configured port as well.
  EXPECT_FALSE(wait_for_port(relay.port(), std::chrono::milliseconds(300)));
  std::string log = read_file(relay.dir() / "activated.log");
  EXPECT_NE(log.find("systemd"), std::string::npos) << log;
}
