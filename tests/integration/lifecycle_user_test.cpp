// Scenario: started as root with `serve --user nobody`, the relay binds, hands the queue and outbox to nobody and
// runs as nobody with CAP_NET_BIND_SERVICE only: mail still flows, the spool files are nobody's, and a reload can
// still open a port below 1024. Skipped when the tests do not run as root.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

std::string status_line(pid_t pid, const std::string& key) {
  std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return {};
  // "\nKey:\tvalue\n"
  auto start = at + key.size() + 3;
  auto end = status.find('\n', start);
  return status.substr(start, end - start);
}

// A port below 1024 that is free on 127.0.0.1 right now.
int free_privileged_port() {
  for (int port = 1010; port > 900; --port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  return 0;
}

TEST(LifecycleUser, StartedAsRootItRunsAsTheGivenUserWithOnlyTheBindCapability) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  RelayOptions o;
  o.args = {"--user", "nobody"};
  Relay relay(o);
  std::filesystem::permissions(relay.dir(), std::filesystem::perms(0755));  // nobody reads the config on reload
  ASSERT_TRUE(relay.start()) << relay.log();

  std::string uid = status_line(relay.pid(), "Uid");
  EXPECT_EQ(uid, std::to_string(nobody->pw_uid) + "\t" + std::to_string(nobody->pw_uid) + "\t" +
                     std::to_string(nobody->pw_uid) + "\t" + std::to_string(nobody->pw_uid))
      << relay.log();
  EXPECT_EQ(status_line(relay.pid(), "CapEff"), "0000000000000400");  // CAP_NET_BIND_SERVICE alone
  EXPECT_EQ(status_line(relay.pid(), "NoNewPrivs"), "1");
  EXPECT_NE(relay.log().find("running as user nobody"), std::string::npos) << relay.log();

  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted()) << relay.log();
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  struct stat st {};
  ASSERT_EQ(::stat(relay.delivered().front().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  ASSERT_EQ(::stat(relay.queue_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);

  // A reload opens a port below 1024 although the process is no longer root.
  int low = free_privileged_port();
  ASSERT_NE(low, 0);
  std::string cfg = read_file(relay.config_path());
  std::string listen = "listen = [\"127.0.0.1:" + std::to_string(relay.port()) + "\"]";
  cfg.replace(cfg.find(listen), listen.size(),
              "listen = [\"127.0.0.1:" + std::to_string(relay.port()) + "\", \"127.0.0.1:" + std::to_string(low) +
                  "\"]");
  TempDir::write_to(relay.config_path(), cfg);
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_for_port(low, 5s)) << relay.log();
  SmtpWire wire(low);
  EXPECT_EQ(reply_code(wire.reply()), 220) << relay.log();
  EXPECT_EQ(relay.stop(), 0) << relay.log();
}

TEST(LifecycleUser, AnUnknownUserStopsTheStart) {
  RelayOptions o;
  o.args = {"--user", "no-such-user-here"};
  Relay relay(o);
  EXPECT_FALSE(relay.start());
  EXPECT_NE(relay.log().find("no such user: no-such-user-here"), std::string::npos) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
