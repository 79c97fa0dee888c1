// Scenario: `smarthost queue ...` and `mailq` against a running relay (through its admin socket) and against the
// same spool with the relay stopped (offline, under the spool lock): list (text and JSON), show, hold, release,
// retry, delete, flush; exit codes for unknown ids and bad usage.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <boost/json/parse.hpp>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

std::string queued_id(const std::string& reply) {
  auto at = reply.find("queued as ");
  if (at == std::string::npos) return "";
  std::string id = reply.substr(at + 10);
  while (!id.empty() && (id.back() == '\r' || id.back() == '\n')) id.pop_back();
  return id;
}

class QueueCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The upstream defers everything, and the next retry is an hour away: messages stay queued.
    fake = std::make_unique<FakeSmtpServer>(peer.path(),
                                            R"({"rules": [{"cmd": "MAIL", "reply": "451 4.3.0 Mailbox busy"}]})");
    RelayOptions o;
    o.upstream = "provider = \"smtp\"\nname = \"fake\"\n[config]\nhost = \"127.0.0.1\"\nport = " +
                 std::to_string(fake->port()) + "\n";
    relay = std::make_unique<Relay>(o);
    std::string cfg = read_file(relay->config_path());
    cfg.insert(cfg.find("[queue]\n") + 8, "retry_schedule = [3600]\n");
    TempDir::write_to(relay->config_path(), cfg);
    if (!relay->start()) {
      if (relay->log().find("is not available in this build") != std::string::npos)
        GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
      FAIL() << relay->log();
    }
  }

  RunResult queue(std::vector<std::string> args) {
    std::vector<std::string> argv{smarthost_bin().string(), "queue"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--config");
    argv.push_back(relay->config_path().string());
    return run(argv, "", 20s);
  }

  std::string submit_one(const std::string& to) {
    Letter letter;
    letter.to = {to};
    letter.subject = "cli " + to;
    auto sent = submit(relay->port(), letter);
    EXPECT_TRUE(sent.accepted()) << sent.end;
    return queued_id(sent.end);
  }

  // Waits until the first attempt of every message has been made and recorded.
  bool all_attempted(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = queue({"list", "--json"});
      if (r.exit_code == 0) {
        auto list = json::parse(r.out).as_array();
        size_t attempted = 0;
        for (const auto& e : list) attempted += e.as_object().at("attempts").as_int64() >= 1;
        if (list.size() == n && attempted == n) return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // Waits until `id` has had two attempts recorded.
  bool attempted_twice(const std::string& id) {
    for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;) {
      auto r = queue({"list", "--json"});
      json::value list = r.exit_code == 0 ? json::parse(r.out) : json::array();
      for (const auto& e : list.as_array())
        if (e.as_object().at("id").as_string() == id && e.as_object().at("attempts").as_int64() >= 2) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  TempDir peer;
  std::unique_ptr<FakeSmtpServer> fake;
  std::unique_ptr<Relay> relay;
};

TEST_F(QueueCli, AgainstTheRunningRelayThenOffline) {
  std::string a = submit_one("a@example.net");
  std::string b = submit_one("b@example.net");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  ASSERT_TRUE(all_attempted(2)) << relay->log();

  // The admin socket is the relay's user's alone.
  struct stat st {};
  ASSERT_EQ(::stat((relay->queue_dir() / "admin.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto list = queue({"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(a + "  active"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("from <app@example.com>"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("to <b@example.net> pending: 451 4.3.0 Mailbox busy"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("1 attempt"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("next in"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("-- 2 messages (0 held, 0 failed)"), std::string::npos) << list.out;
  EXPECT_NE(relay->log().find("queue admin: list -> ok"), std::string::npos) << "answered by the relay";

  // mailq is `queue list`.
  fs::path mailq = relay->dir() / "mailq";
  fs::create_symlink(smarthost_bin(), mailq);
  auto q = run({mailq.string(), "--config", relay->config_path().string()});
  EXPECT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find(a + "  active"), std::string::npos) << q.out;

  auto show = queue({"show", a});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("sender:       <app@example.com>"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("  Subject: cli a@example.net"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("1 delivery attempt"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("last error: "), std::string::npos) << show.out;
  auto show_json = queue({"show", a, "--json"});
  ASSERT_EQ(show_json.exit_code, 0);
  auto details = json::parse(show_json.out).as_object();
  EXPECT_EQ(details.at("envelope").as_object().at("mail_from").as_string(), "app@example.com");

  // Lower-case ids are accepted.
  std::string lower = a;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(queue({"hold", lower}).exit_code, 0);
  EXPECT_TRUE(fs::exists(relay->queue_dir() / "hold" / a));
  auto held = json::parse(queue({"list", "--json"}).out).as_array();
  ASSERT_EQ(held.size(), 2u);
  bool seen_hold = false;
  for (const auto& e : held)
    if (e.as_object().at("id").as_string() == a) seen_hold = e.as_object().at("folder").as_string() == "hold";
  EXPECT_TRUE(seen_hold);
  auto not_held = queue({"release", b});
  EXPECT_EQ(not_held.exit_code, 1);
  EXPECT_NE(not_held.err.find(b + " is not held"), std::string::npos) << not_held.err;
  EXPECT_EQ(queue({"release", a}).exit_code, 0);
  EXPECT_TRUE(fs::exists(relay->queue_dir() / "active" / a));

  // release made `a` due now: let that attempt end first, so that flush finds both messages idle.
  ASSERT_TRUE(attempted_twice(a)) << relay->log();

  // retry makes it due now: the relay tries it again at once.
  size_t mails_before = 0;
  for (const auto& c : fake->commands()) mails_before += c.rfind("MAIL", 0) == 0;
  EXPECT_EQ(queue({"retry", b}).exit_code, 0);
  EXPECT_EQ(queue({"flush"}).exit_code, 0);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t mails_after = mails_before;
  while (mails_after < mails_before + 2 && std::chrono::steady_clock::now() < deadline) {
    mails_after = 0;
    for (const auto& c : fake->commands()) mails_after += c.rfind("MAIL", 0) == 0;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(mails_after, mails_before + 2) << "retry and flush made both messages due";

  EXPECT_EQ(queue({"delete", b}).exit_code, 0);
  // b may be in the attempt that retry started: it goes as that attempt ends.
  auto gone = queue({"show", b});
  for (auto until = std::chrono::steady_clock::now() + 10s;
       gone.exit_code == 0 && std::chrono::steady_clock::now() < until; gone = queue({"show", b}))
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no such message: " + b), std::string::npos) << gone.err;
  EXPECT_EQ(queue({"show", "NOTANID"}).exit_code, 2);
  EXPECT_EQ(queue({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(queue({"retry"}).exit_code, 2);
  EXPECT_EQ(queue({"delete", "--all-failed"}).exit_code, 0);
  EXPECT_EQ(queue({"retry", "--all"}).exit_code, 0);

  // Offline: the relay is stopped; the same commands work on the spool directly.
  ASSERT_EQ(relay->stop(), 0) << relay->log();
  EXPECT_FALSE(fs::exists(relay->queue_dir() / "admin.sock"));
  auto offline = queue({"list"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_NE(offline.out.find(a + "  active"), std::string::npos) << offline.out;
  EXPECT_EQ(offline.out.find(b), std::string::npos) << offline.out;
  EXPECT_EQ(queue({"hold", a}).exit_code, 0);
  EXPECT_TRUE(fs::exists(relay->queue_dir() / "hold" / a));
  EXPECT_EQ(queue({"release", a}).exit_code, 0);
  EXPECT_EQ(queue({"flush"}).exit_code, 0);
  auto offline_show = queue({"show", a});
  EXPECT_EQ(offline_show.exit_code, 0) << offline_show.err;
  EXPECT_NE(offline_show.out.find("Subject: cli a@example.net"), std::string::npos) << offline_show.out;
  EXPECT_EQ(queue({"show", b}).exit_code, 1);
  EXPECT_EQ(queue({"delete", a}).exit_code, 0);
  auto empty = queue({"list"});
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(empty.out, "Mail queue is empty\n");
}

TEST(QueueCliNoSpool, AFreshInstallHasAnEmptyQueue) {
  TempDir dir;
  auto cfg = dir.write("smarthost.toml", "provider = \"file\"\n[config]\ndir = \"" + (dir.path() / "out").string() +
                                             "\"\n[queue]\ndir = \"" + (dir.path() / "queue").string() + "\"\n");
  auto r = run({smarthost_bin().string(), "queue", "list", "--config", cfg.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Mail queue is empty\n");
  auto json_list = run({smarthost_bin().string(), "queue", "list", "--json", "--config", cfg.string()});
  EXPECT_EQ(json_list.out, "[]\n");
  auto show = run({smarthost_bin().string(), "queue", "show", "0T9XK2M4B7QF1", "--config", cfg.string()});
  EXPECT_EQ(show.exit_code, 1);
  auto bad_config = run({smarthost_bin().string(), "queue", "list", "--config", (dir.path() / "nope.toml").string()});
  EXPECT_EQ(bad_config.exit_code, 1);
}

}  // namespace
}  // namespace smarthost::test
