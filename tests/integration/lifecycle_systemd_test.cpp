// Scenario: smarthost under systemd. The notify protocol is checked against a datagram socket standing in for
// systemd (READY with STATUS, watchdog pings from the event loop, RELOADING then READY on SIGHUP, STOPPING on
// SIGTERM); the shipped units pass `systemd-analyze verify`, and the service's security exposure stays low.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <thread>

#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

// A unix datagram socket in the test's directory, as systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifySocket() { ::close(fd_); }
  bool bound() const { return bound_; }

  // The next message, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Reads messages until one contains `needle`; the ones before it are appended to `skipped`.
  std::string until(const std::string& needle, std::chrono::milliseconds timeout, std::string* skipped = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string m = next(200ms);
      if (m.find(needle) != std::string::npos) return m;
      if (skipped && !m.empty()) *skipped += m + "|";
    }
    return {};
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(LifecycleSystemd, NotifiesReadyReloadingStoppingAndPingsTheWatchdog) {
  TempDir tmp;
  NotifySocket notify(tmp.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  RelayOptions o;
  o.env = {{"NOTIFY_SOCKET", (tmp.path() / "notify.sock").string()}, {"WATCHDOG_USEC", "400000"}};
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();

  std::string ready = notify.until("READY=1", 5s);
  ASSERT_FALSE(ready.empty()) << relay.log();
  EXPECT_NE(ready.find("STATUS=accepting mail on 127.0.0.1:" + std::to_string(relay.port())), std::string::npos)
      << ready;
  EXPECT_NE(ready.find("MAINPID=" + std::to_string(relay.pid())), std::string::npos) << ready;

  // WatchdogSec=0.4s: a ping every 0.2 s.
  int pings = 0;
  auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until)
    if (notify.next(300ms).find("WATCHDOG=1") != std::string::npos) ++pings;
  EXPECT_GE(pings, 3);
  EXPECT_LE(pings, 8);

  relay.signal(SIGHUP);
  std::string reloading = notify.until("RELOADING=1", 3s);
  ASSERT_FALSE(reloading.empty());
  EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << reloading;
  EXPECT_FALSE(notify.until("READY=1", 3s).empty()) << "no READY=1 after the reload";

  relay.signal(SIGTERM);
  EXPECT_FALSE(notify.until("STOPPING=1", 3s).empty());
  EXPECT_EQ(relay.stop(), 0) << relay.log();
}

TEST(LifecycleSystemd, WithoutNotifySocketNothingIsSent) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  EXPECT_EQ(relay.stop(), 0) << relay.log();
}

// The units with ExecStart pointing at the built binary (systemd-analyze checks that it is executable).
std::filesystem::path units_for_test(const TempDir& tmp) {
  for (const char* unit : {"smarthost.service", "smarthost.socket"}) {
    std::string text = read_file(source_dir() / "systemd" / unit);
    for (size_t at; (at = text.find("/usr/sbin/smarthost")) != std::string::npos;)
      text.replace(at, std::strlen("/usr/sbin/smarthost"), smarthost_bin().string());
    tmp.write(unit, text);
  }
  return tmp.path();
}

bool have_systemd_analyze() { return run({"sh", "-c", "command -v systemd-analyze"}).exit_code == 0; }

TEST(LifecycleSystemd, TheUnitsPassSystemdAnalyzeVerify) {
  if (!have_systemd_analyze()) GTEST_SKIP() << "systemd-analyze is not installed (apt-get install systemd)";
  TempDir tmp;
  auto dir = units_for_test(tmp);
  auto r = run({"systemd-analyze", "verify", (dir / "smarthost.service").string(), (dir / "smarthost.socket").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("smarthost"), std::string::npos) << r.err;
}

TEST(LifecycleSystemd, TheServiceScoresWellInSystemdAnalyzeSecurity) {
  if (!have_systemd_analyze()) GTEST_SKIP() << "systemd-analyze is not installed (apt-get install systemd)";
  TempDir tmp;
  auto dir = units_for_test(tmp);
  auto r = run({"systemd-analyze", "security", "--offline=yes", (dir / "smarthost.service").string()});
  std::smatch m;
  std::string text = r.out + r.err;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("Overall exposure level for smarthost\\.service: ([0-9.]+)")))
      << text;
  double exposure = std::stod(m[1].str());
  RecordProperty("exposure", m[1].str());
  EXPECT_LE(exposure, 2.0) << text;  // "OK" is below 3.0; README reports the number
}

}  // namespace
}  // namespace smarthost::test
