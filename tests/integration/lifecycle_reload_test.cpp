// Scenario: SIGHUP reloads the configuration of a running `smarthost serve`. Under load from several clients, a
// good config is swapped in, a bad one is refused (the running one stays), and no accepted message is lost. A
// reload adds a listener, then removes the first one while a session on it is still open; it swaps the upstream;
// it logs the SHA-256 and the changed keys with secrets masked.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Waits until the relay's log holds `needle` at least `n` times.
bool wait_log(const Relay& relay, const std::string& needle, size_t n = 1, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_of(relay.log(), needle) >= n) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void rewrite(const Relay& relay, const std::string& from, const std::string& to) {
  std::string cfg = read_file(relay.config_path());
  auto at = cfg.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in\n" << cfg;
  cfg.replace(at, from.size(), to);
  TempDir::write_to(relay.config_path(), cfg);
}

std::string greeting(int port) {
  SmtpWire wire(port);
  return wire.reply();
}

TEST(LifecycleReload, GoodAndBadConfigsUnderLoadLoseNoMessage) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  const std::string original = read_file(relay.config_path());

  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> clients;
  // Stops and joins the clients however the test ends (an ASSERT returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } joiner{stop, clients};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      int i = 0;
      while (!stop) {
        Letter letter;
        letter.subject = "load " + std::to_string(c) + "." + std::to_string(i++);
        auto s = submit(relay.port(), letter);
        (s.accepted() ? accepted : refused)++;
      }
    });
  }
  std::this_thread::sleep_for(300ms);

  // A good change: the greeting's host name.
  rewrite(relay, "hostname = \"relay.test\"", "hostname = \"relay-two.test\"");
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "configuration reloaded")) << relay.log();
  std::this_thread::sleep_for(300ms);

  // A bad one: a typo'd key and a value out of range. Refused; the running configuration stays.
  std::string bad = read_file(relay.config_path());
  bad.insert(bad.find("[server]\n") + 9, "max_recipents = 5\nmax_connections = 0\n");
  TempDir::write_to(relay.config_path(), bad);
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "reload refused")) << relay.log();
  std::this_thread::sleep_for(300ms);

  // And good again: back to the original.
  TempDir::write_to(relay.config_path(), original);
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "configuration reloaded", 2)) << relay.log();
  std::this_thread::sleep_for(300ms);

  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(refused.load(), 0) << relay.log();
  ASSERT_GT(accepted.load(), 20) << "too little load to say anything";
  ASSERT_TRUE(relay.wait_delivered(static_cast<size_t>(accepted.load()), 20s))
      << accepted << " accepted, " << relay.delivered().size() << " delivered\n" << relay.log();
  EXPECT_EQ(relay.delivered().size(), static_cast<size_t>(accepted.load()));

  std::string log = relay.log();
  EXPECT_NE(log.find("server.hostname: \"relay.test\" -> \"relay-two.test\""), std::string::npos) << log;
  // The refusal names each problem with its position, and the old configuration's hash.
  EXPECT_NE(log.find("unknown key 'max_recipents' in [server]; did you mean 'max_recipients'?"), std::string::npos)
      << log;
  EXPECT_NE(log.find("max_connections"), std::string::npos) << log;
  EXPECT_NE(log.find("keeping the running configuration (sha256="), std::string::npos) << log;
  EXPECT_EQ(relay.stop(), 0) << relay.log();
}

TEST(LifecycleReload, TheRefusedConfigurationLeavesTheRunningOneInForce) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  rewrite(relay, "hostname = \"relay.test\"", "hostname = \"other.test\"\nlisten_tls = [\"127.0.0.1:1\"]");
  relay.signal(SIGHUP);  // listen_tls without a certificate: refused by the checks
  ASSERT_TRUE(wait_log(relay, "reload refused")) << relay.log();
  EXPECT_NE(greeting(relay.port()).find("220 relay.test"), std::string::npos) << relay.log();
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  EXPECT_TRUE(relay.wait_delivered(1));
}

TEST(LifecycleReload, AListenerIsAddedThenTheOldOneClosesWhileItsSessionFinishes) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  const int first = relay.port();
  const int second = free_port();
  const std::string one = "listen = [\"127.0.0.1:" + std::to_string(first) + "\"]";
  const std::string both = "listen = [\"127.0.0.1:" + std::to_string(first) + "\", \"127.0.0.1:" +
                           std::to_string(second) + "\"]";
  const std::string only_second = "listen = [\"127.0.0.1:" + std::to_string(second) + "\"]";

  rewrite(relay, one, both);
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "opened by the reload")) << relay.log();
  EXPECT_EQ(reply_code(greeting(second)), 220);

  // A session on the first port, half-way through a transaction.
  SmtpWire open_session(first);
  ASSERT_EQ(reply_code(open_session.reply()), 220);
  open_session.command("EHLO client.test");
  ASSERT_EQ(reply_code(open_session.command("MAIL FROM:<app@example.com>")), 250);
  ASSERT_EQ(reply_code(open_session.command("RCPT TO:<user@example.net>")), 250);

  rewrite(relay, both, only_second);
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "closed by the reload")) << relay.log();
  std::this_thread::sleep_for(100ms);
  SmtpWire refused(first);
  EXPECT_FALSE(refused.connected() && reply_code(refused.reply(1s)) == 220) << "the removed port still accepts";

  // The open session finishes its message on the closed listener.
  ASSERT_EQ(reply_code(open_session.command("DATA")), 354);
  open_session.send("Subject: drained\r\n\r\nfinished after the listener closed\r\n.\r\n");
  EXPECT_EQ(reply_code(open_session.reply(10s)), 250);
  open_session.command("QUIT");
  ASSERT_TRUE(submit(second, Letter{}).accepted());
  EXPECT_TRUE(relay.wait_delivered(2)) << relay.log();
}

TEST(LifecycleReload, TheUpstreamIsSwappedForNewDeliveries) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();

  auto second_outbox = relay.dir() / "outbox-two";
  rewrite(relay, "dir = \"" + relay.outbox().string() + "\"", "dir = \"" + second_outbox.string() + "\"");
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "configuration reloaded")) << relay.log();
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t arrived = 0;
  while (std::chrono::steady_clock::now() < deadline && arrived == 0) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(second_outbox, ec))
      if (e.path().extension() == ".eml") ++arrived;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(arrived, 1u) << relay.log();
  EXPECT_EQ(relay.delivered().size(), 1u) << "the old upstream got the message sent after the reload";
  EXPECT_NE(relay.log().find("config.dir: \"" + relay.outbox().string() + "\" -> \"" + second_outbox.string() + "\""),
            std::string::npos)
      << relay.log();
}

TEST(LifecycleReload, TheHashAndTheChangedKeysAreLoggedWithSecretsMasked) {
  RelayOptions o;
  const std::string first_key = "key-first-secret-4711", second_key = "key-second-secret-0815";
  o.upstream = "provider = \"mailgun\"\nname = \"mg\"\n[config]\napi_key = \"" + first_key +
               "\"\ndomain = \"mg.example.com\"\nendpoint = \"http://127.0.0.1:9\"\n";
  Relay relay(o);
  if (!relay.start()) {
    if (relay.log().find("is not available in this build") != std::string::npos) GTEST_SKIP() << "no mailgun";
    FAIL() << relay.log();
  }
  ASSERT_TRUE(wait_log(relay, "accepting SMTP")) << relay.log();
  std::smatch first_hash;
  std::string log = relay.log();
  ASSERT_TRUE(std::regex_search(log, first_hash, std::regex("sha256=([0-9a-f]{64})"))) << log;
  const std::string first_sha = first_hash[1].str();  // the match points into `log`, which is read again below

  rewrite(relay, first_key, second_key);
  rewrite(relay, "hostname = \"relay.test\"", "hostname = \"relay-three.test\"");
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "configuration reloaded")) << relay.log();
  log = relay.log();
  EXPECT_NE(log.find("config.api_key: \"***\" -> \"***\""), std::string::npos) << log;
  EXPECT_NE(log.find("server.hostname"), std::string::npos) << log;
  EXPECT_NE(log.find("(was " + first_sha + ")"), std::string::npos) << log;
  EXPECT_EQ(log.find(first_key), std::string::npos) << "the old secret leaked into the log";
  EXPECT_EQ(log.find(second_key), std::string::npos) << "the new secret leaked into the log";

  // A reload with nothing changed says so.
  relay.signal(SIGHUP);
  EXPECT_TRUE(wait_log(relay, "configuration unchanged")) << relay.log();
}

// /proc/<pid>/task/<tid>/<file> of every thread of `pid`.
std::vector<std::string> per_thread(pid_t pid, const char* file) {
  std::vector<std::string> contents;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    contents.push_back(read_file(task.path() / file));
  return contents;
}

// The scheduling policy of every thread of `pid` (field 41 of its stat).
std::vector<int> thread_policies(pid_t pid) {
  std::vector<int> policies;
  for (const std::string& stat : per_thread(pid, "stat")) {
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // field 3 onwards
    std::string field;
    for (int n = 3; n <= 41 && fields >> field; ++n) {
    }
    policies.push_back(std::stoi(field));
  }
  return policies;
}

TEST(LifecycleReload, CpuSchedulingIsBatchByDefaultAndAReloadChangesIt) {
  RelayOptions o;
  o.extra = "[performance]\ncpu_scheduling = \"normal\"\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(wait_log(relay, "cpu scheduling: normal")) << relay.log();
  auto policies = thread_policies(relay.pid());
  ASSERT_GE(policies.size(), 3u);  // sessions, deliveries, group commit at least
  for (int policy : policies) EXPECT_EQ(policy, SCHED_OTHER);

  rewrite(relay, "cpu_scheduling = \"normal\"", "cpu_scheduling = \"batch\"");
  relay.signal(SIGHUP);
  ASSERT_TRUE(wait_log(relay, "configuration reloaded")) << relay.log();
  EXPECT_NE(relay.log().find("performance.cpu_scheduling: \"normal\" -> \"batch\""), std::string::npos) << relay.log();
  EXPECT_EQ(relay.log().find("take effect only after a restart"), std::string::npos) << relay.log();
  for (int policy : thread_policies(relay.pid())) EXPECT_EQ(policy, SCHED_BATCH);
  // Mail still flows.
  EXPECT_TRUE(submit(relay.port(), Letter{}).accepted()) << relay.log();
  EXPECT_TRUE(relay.wait_delivered(1)) << relay.log();
}

TEST(LifecycleReload, CpuSchedulingDefaultsToBatch) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(wait_log(relay, "cpu scheduling: batch")) << relay.log();
  for (int policy : thread_policies(relay.pid())) EXPECT_EQ(policy, SCHED_BATCH);
}

// Threads carry names for top -H, ps -L and perf: which one is busy is visible at a glance.
TEST(LifecycleReload, ThreadsAreNamedForWhatTheyDo) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  std::vector<std::string> expected{"delivery", "commit", "commit/folders", "cleanup", "cleanup/folders"};
  if (std::thread::hardware_concurrency() > 1) expected.push_back("smtpd");
  // The io threads start once the relay answers, and each names itself when it runs: wait for them (bounded).
  std::multiset<std::string> names;
  auto all_there = [&] {
    return std::all_of(expected.begin(), expected.end(), [&](const std::string& n) { return names.count(n) > 0; });
  };
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       !all_there() && std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
    names.clear();
    for (std::string name : per_thread(relay.pid(), "comm")) {
      if (!name.empty() && name.back() == '\n') name.pop_back();
      names.insert(name);
    }
  }
  for (const auto& n : expected) EXPECT_GE(names.count(n), 1u) << n;
}

}  // namespace
}  // namespace smarthost::test
