// Listener kinds of the real server: IPv6, a unix-domain socket (swaks --socket), and systemd socket activation
// (LISTEN_FDS), where the relay takes over a socket bound by its parent instead of binding its own.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace

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
  EXPECT_EQ(reply_code(wire.command("QUIT")), 221);
  // It did not bind the configured port as well.
  EXPECT_FALSE(wait_for_port(relay.port(), std::chrono::milliseconds(300)));
  std::string log = read_file(relay.dir() / "activated.log");
  EXPECT_NE(log.find("systemd"), std::string::npos) << log;
}
