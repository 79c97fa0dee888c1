// The admin socket against a real spool and scheduler, with the CLI's client: list (streamed in batches), show,
// hold, release, delete, unknown ids; the socket's mode, stale files, oversized and silent clients, and stop().
// The client against scripted servers: a list cut short, a connection dropped mid-list, an unstreamed answer.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include <algorithm>
#include <cstring>
#include <thread>

#include "queue/admin_client.h"
#include "queue/admin_server.h"
#include "queue/scheduler.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;

// A raw client: sends `bytes`, then reads until the server closes or `timeout` passes.
struct RawReply {
  std::string text;
  bool closed = false;
};

RawReply raw_exchange(const fs::path& path, const std::string& bytes, std::chrono::milliseconds timeout) {
  RawReply reply;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return reply;
  }
  if (!bytes.empty()) (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      reply.closed = true;
      break;
    }
    reply.text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code error;
    spool = FsSpool::open(dir.path() / "queue", {}, error);
    ASSERT_TRUE(spool) << error.message();
    first = test::commit(io, *spool, test::envelope("alice@example.org", {"bob@example.net"}),
                         test::sample_message("first"), clock.now())
                .id;
    second = test::commit(io, *spool, test::envelope("", {"carol@example.net"}), test::sample_message("second"),
                          clock.now())
                 .id;
    SchedulerSettings settings;
    settings.retry_jitter = 0;
    scheduler = std::make_unique<Scheduler>(io.get_executor(), *spool, transport, settings, clock);
  }

  void start(AdminServerOptions options = {}) {
    admin = std::make_unique<AdminServer>(io.get_executor(), *scheduler, socket_path(), options);
    ASSERT_FALSE(admin->start());
    runner = std::thread([this] { io.run(); });
  }

  void TearDown() override {
    if (admin) admin->stop();
    work.reset();
    io.stop();
    if (runner.joinable()) runner.join();
    admin.reset();
    scheduler.reset();
  }

  fs::path socket_path() const { return dir.path() / "queue" / "admin.sock"; }

  admin::Answer ask(admin::Verb verb, QueueId id = {}) {
    auto exchange = admin::ask(socket_path(), admin::Request{verb, std::move(id)}, 5s);
    EXPECT_EQ(exchange.reach, admin::Exchange::Reach::answered) << exchange.error;
    return exchange.answer.value_or(admin::Answer{admin::Status::failed, exchange.error, {}, {}});
  }

  smarthost::test::TempDir dir;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  test::ManualClock clock{std::chrono::system_clock::now()};
  test::FakeTransport transport{io};
  std::unique_ptr<FsSpool> spool;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<AdminServer> admin;
  std::thread runner;
  QueueId first, second;
};

TEST_F(AdminServerTest, ListsAndShowsThroughTheSocket) {
  start();
  auto list = ask(admin::Verb::list);
  ASSERT_EQ(list.status, admin::Status::ok) << list.error;
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_EQ(list.entries[0].id, first);
  EXPECT_EQ(list.entries[0].sender, "alice@example.org");
  EXPECT_EQ(list.entries[1].id, second);
  EXPECT_EQ(list.entries[1].sender, "");
  ASSERT_EQ(list.entries[1].recipients.size(), 1u);
  EXPECT_EQ(list.entries[1].recipients[0].address, "carol@example.net");

  auto show = ask(admin::Verb::show, first);
  ASSERT_EQ(show.status, admin::Status::ok) << show.error;
  ASSERT_TRUE(show.details);
  EXPECT_NE(show.details->headers.find("Subject: first\r\n"), std::string::npos);
  EXPECT_EQ(show.details->envelope.client_helo, "client.example");
}

TEST_F(AdminServerTest, HoldReleaseDeleteAndUnknownIds) {
  start();
  EXPECT_EQ(ask(admin::Verb::hold, first).status, admin::Status::ok);
  EXPECT_TRUE(fs::exists(dir.path() / "queue" / "hold" / first));
  auto again = ask(admin::Verb::release, second);
  EXPECT_EQ(again.status, admin::Status::invalid);
  EXPECT_EQ(again.error, second + " is not held");
  EXPECT_EQ(ask(admin::Verb::release, first).status, admin::Status::ok);
  EXPECT_TRUE(fs::exists(dir.path() / "queue" / "active" / first));

  EXPECT_EQ(ask(admin::Verb::remove, second).status, admin::Status::ok);
  EXPECT_FALSE(fs::exists(dir.path() / "queue" / "active" / second));
  auto gone = ask(admin::Verb::show, second);
  EXPECT_EQ(gone.status, admin::Status::not_found);
  EXPECT_EQ(gone.error, "no such message: " + second);
  EXPECT_EQ(ask(admin::Verb::retry, second).status, admin::Status::not_found);
  EXPECT_EQ(ask(admin::Verb::flush).status, admin::Status::ok);
  EXPECT_EQ(ask(admin::Verb::list).entries.size(), 1u);
}

TEST_F(AdminServerTest, SocketIsPrivateAndGoesAwayOnStop) {
  // A stale socket file from a relay that was killed is replaced.
  fs::create_directories(socket_path().parent_path());
  smarthost::test::TempDir::write_to(socket_path(), "stale");
  start();
  struct stat st {};
  ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(socket_path().string() + ".new"));

  admin->stop();
  EXPECT_FALSE(fs::exists(socket_path()));
  auto exchange = admin::ask(socket_path(), admin::Request{admin::Verb::list, {}}, 2s);
  EXPECT_EQ(exchange.reach, admin::Exchange::Reach::no_server);
}

TEST_F(AdminServerTest, BadOversizedAndSilentClients) {
  AdminServerOptions options;
  options.io_timeout = 300ms;
  start(options);
  auto bogus = raw_exchange(socket_path(), "bogus\n", 3s);
  EXPECT_TRUE(bogus.closed);
  EXPECT_NE(bogus.text.find("\"status\":\"invalid\""), std::string::npos) << bogus.text;
  EXPECT_NE(bogus.text.find("unknown request: bogus"), std::string::npos) << bogus.text;

  auto huge = raw_exchange(socket_path(), std::string(admin::kMaxRequest + 10, 'x'), 3s);
  EXPECT_TRUE(huge.closed);
  EXPECT_NE(huge.text.find("request too long"), std::string::npos) << huge.text;

  // Says nothing: dropped at the read deadline, without an answer.
  auto started = std::chrono::steady_clock::now();
  auto silent = raw_exchange(socket_path(), "", 5s);
  EXPECT_TRUE(silent.closed);
  EXPECT_TRUE(silent.text.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);

  // And the server still answers afterwards.
  EXPECT_EQ(ask(admin::Verb::list).entries.size(), 2u);
}

TEST_F(AdminServerTest, StreamsADeepListInBatchesOldestFirst) {
  // More messages than one batch of the server (128) and than one read of the client (64 KiB).
  std::vector<QueueId> ids{first, second};
  for (int i = 0; i < 300; ++i)
    ids.push_back(test::commit(io, *spool, test::envelope("bulk@example.org", {"r" + std::to_string(i) + "@x.example"}),
                               test::sample_message("bulk"), clock.now())
                      .id);
  start();
  ASSERT_FALSE(scheduler->hold(ids[5]));  // listed after every active message

  std::vector<QueueEntry> seen;
  auto exchange = admin::ask(socket_path(), admin::Request{admin::Verb::list, {}}, 5s,
                             [&](QueueEntry&& entry) { seen.push_back(std::move(entry)); });
  ASSERT_EQ(exchange.reach, admin::Exchange::Reach::answered) << exchange.error;
  EXPECT_EQ(exchange.answer->status, admin::Status::ok);
  EXPECT_EQ(exchange.answer->count, 302u);
  EXPECT_TRUE(exchange.answer->entries.empty());  // they went to the sink
  ASSERT_EQ(seen.size(), 302u);
  std::vector<QueueId> expected = ids;
  expected.erase(expected.begin() + 5);
  std::sort(expected.begin(), expected.end());
  expected.push_back(ids[5]);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].id, expected[i]) << i;
  EXPECT_EQ(seen.back().folder, Folder::hold);
  EXPECT_EQ(seen[301].recipients.at(0).address, "r3@x.example");

  // On the wire: one line per entry, then the closing answer with the count.
  auto raw = raw_exchange(socket_path(), "list\n", 5s);
  EXPECT_TRUE(raw.closed);
  EXPECT_EQ(std::count(raw.text.begin(), raw.text.end(), '\n'), 303);
  EXPECT_TRUE(raw.text.ends_with("{\"status\":\"ok\",\"count\":302}\n")) << raw.text.substr(raw.text.size() - 200);
}

// A one-connection admin server that answers the first request line with `script`, then closes.
class ScriptedServer {
 public:
  ScriptedServer(const fs::path& path, std::string script) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this, script = std::move(script)] {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char c;
      while (::recv(client, &c, 1, 0) == 1 && c != '\n') {
      }
      (void)!::send(client, script.data(), script.size(), MSG_NOSIGNAL);
      ::close(client);
    });
  }
  ~ScriptedServer() {
    thread_.join();
    ::close(fd_);
  }

 private:
  int fd_ = -1;
  std::thread thread_;
};

std::string entry_line(QueueId id) {
  QueueEntry entry;
  entry.id = std::move(id);
  entry.sender = "a@example.org";
  return admin::encode_entry_line(entry) + "\n";
}

admin::Exchange ask_scripted(const std::string& script, std::vector<QueueEntry>& seen) {
  smarthost::test::TempDir dir;
  ScriptedServer server(dir.path() / "admin.sock", script);
  return admin::ask(dir.path() / "admin.sock", admin::Request{admin::Verb::list, {}}, 5s,
                    [&](QueueEntry&& entry) { seen.push_back(std::move(entry)); });
}

TEST(AdminClient, AListCutShortIsAnError) {
  std::vector<QueueEntry> seen;
  auto short_count = ask_scripted(entry_line("AAAAAAAAAAAAA") + "{\"status\":\"ok\",\"count\":2}\n", seen);
  EXPECT_EQ(short_count.reach, admin::Exchange::Reach::failed);
  EXPECT_EQ(short_count.error, "the relay's list was cut short: 1 of 2 entries arrived");

  seen.clear();
  auto dropped = ask_scripted(entry_line("AAAAAAAAAAAAA") + entry_line("AAAAAAAAAAAAB"), seen);
  EXPECT_EQ(dropped.reach, admin::Exchange::Reach::failed);
  EXPECT_EQ(dropped.error, "the relay closed the admin connection in the middle of the list");
  EXPECT_EQ(seen.size(), 2u);

  seen.clear();
  auto broken = ask_scripted("{\"entry\":{\"id\":\n", seen);
  EXPECT_EQ(broken.reach, admin::Exchange::Reach::failed);
  EXPECT_NE(broken.error.find("malformed list entry"), std::string::npos) << broken.error;
  EXPECT_TRUE(seen.empty());

  // A failure after some entries: the closing answer says so, without a count.
  seen.clear();
  auto failed = ask_scripted(entry_line("AAAAAAAAAAAAA") + "{\"status\":\"failed\",\"error\":\"disk gone\"}\n", seen);
  ASSERT_EQ(failed.reach, admin::Exchange::Reach::answered) << failed.error;
  EXPECT_EQ(failed.answer->status, admin::Status::failed);
  EXPECT_EQ(failed.answer->error, "disk gone");
}

TEST(AdminClient, TakesAListSentAllAtOnce) {
  // A relay from before streaming answers with one line holding every entry.
  admin::Answer whole;
  QueueEntry a, b;
  a.id = "AAAAAAAAAAAAA";
  b.id = "AAAAAAAAAAAAB";
  whole.entries = {a, b};
  std::vector<QueueEntry> seen;
  auto exchange = ask_scripted(admin::encode_answer(whole) + "\n", seen);
  ASSERT_EQ(exchange.reach, admin::Exchange::Reach::answered) << exchange.error;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].id, "AAAAAAAAAAAAB");
  EXPECT_TRUE(exchange.answer->entries.empty());
}

TEST_F(AdminServerTest, RefusesAPathTooLongForASocket) {
  AdminServer server(io.get_executor(), *scheduler, dir.path() / std::string(120, 'x'));
  EXPECT_EQ(server.start(), std::errc::filename_too_long);
}

TEST(AdminClient, NoServerWhenNothingListens) {
  smarthost::test::TempDir dir;
  auto exchange = admin::ask(dir.path() / "admin.sock", admin::Request{admin::Verb::list, {}}, 1s);
  EXPECT_EQ(exchange.reach, admin::Exchange::Reach::no_server);
}

}  // namespace
}  // namespace smarthost::queue
