// Crash safety: a child process writes messages and is killed with SIGKILL in the middle of writing; the
// re-opened spool holds every message the child saw committed, each complete, and nothing half-written.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "queue/spool_record.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;

// Each message says how long it is and repeats one character, so any truncation or mix-up shows.
std::string content_for(int index) {
  std::string body(64 * 1024 + index * 997, static_cast<char>('a' + index % 26));
  return "Subject: crash test " + std::to_string(index) + "\r\nX-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// Writes messages, reporting "<id> <index>" per commit. With `pause_at` >= 0, it stops half-way through message
// `pause_at` (its first half already in the file), reports "half", and waits to be killed.
[[noreturn]] void write_until_killed(const fs::path& root, int report_fd, int pause_at, SpoolDir::SyncMethod sync) {
  asio::io_context io;
  std::error_code error;
  FsSpoolOptions options;
  options.write_buffer = 4096;
  options.sync = sync;
  auto spool = FsSpool::open(root, std::move(options), error);
  if (!spool) ::_exit(2);
  const auto env = test::envelope("a@x.org", {"b@y.org"});
  for (int index = 0;; ++index) {
    auto writer = spool->begin(error);
    if (!writer) ::_exit(3);
    std::string content = content_for(index);
    for (size_t at = 0; at < content.size(); at += 1000) {
      writer->append(std::string_view(content).substr(at, 1000));
      if (index == pause_at && at >= content.size() / 2) {
        if (::write(report_fd, "half\n", 5) != 5) ::_exit(6);
        while (true) ::pause();
      }
    }
    std::optional<CommitResult> result;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { result = co_await writer->commit(env); }, asio::detached);
    while (!result) {
      io.restart();
      io.run_one();
    }
    if (result->error) ::_exit(4);
    std::string line = result->id + " " + std::to_string(index) + "\n";
    if (::write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(5);
  }
}

void kill_writer_and_check(int pause_at, SpoolDir::SyncMethod sync = SpoolDir::SyncMethod::automatic) {
  smarthost::test::TempDir dir;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    write_until_killed(dir.path(), pipe_fds[1], pause_at, sync);
  }
  ::close(pipe_fds[1]);
  // Should an assertion end the test early, the child must not outlive it.
  struct Reaper {
    pid_t pid;
    bool reaped = false;
    ~Reaper() {
      if (reaped) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{child};

  // Let it commit a few messages, then kill it while it is writing the next one.
  std::map<QueueId, int> committed;
  std::string pending;
  char buffer[256];
  bool paused = false;
  while (pause_at >= 0 ? !paused : committed.size() < 5) {
    ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    ASSERT_GT(got, 0) << "the writer died early";
    pending.append(buffer, static_cast<size_t>(got));
    for (size_t end; (end = pending.find('\n')) != std::string::npos; pending.erase(0, end + 1)) {
      std::string line = pending.substr(0, end);
      if (line == "half") {
        paused = true;
        continue;
      }
      committed[line.substr(0, line.find(' '))] = std::stoi(line.substr(line.find(' ') + 1));
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  reaper.reaped = true;
  EXPECT_TRUE(WIFSIGNALED(status));
  // Whatever the child acknowledged after our last read also counts.
  while (true) {
    ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (got <= 0) break;
    pending.append(buffer, static_cast<size_t>(got));
  }
  for (size_t end; (end = pending.find('\n')) != std::string::npos; pending.erase(0, end + 1)) {
    std::string line = pending.substr(0, end);
    if (line != "half") committed[line.substr(0, line.find(' '))] = std::stoi(line.substr(line.find(' ') + 1));
  }
  ::close(pipe_fds[0]);

  std::error_code error;
  auto spool = FsSpool::open(dir.path(), {}, error);
  ASSERT_TRUE(spool) << error.message();
  if (pause_at >= 0) {
    EXPECT_EQ(spool->recovery().removed_temporary, 1u);  // the half-written message
  }
  EXPECT_TRUE(spool->recovery().checked_contents) << "killed: no clean stop";
  EXPECT_EQ(spool->recovery().set_aside, 0u) << "a kill keeps the page cache: every renamed file is whole";
  EXPECT_TRUE(fs::is_empty(dir.path() / "tmp"));
  auto messages = spool->dir().scan(Folder::active, error);
  ASSERT_FALSE(error);
  std::set<QueueId> found;
  for (const auto& message : messages) {
    found.insert(message.id);
    std::string content = test::read_range(message.content_path, message.content_offset);
    EXPECT_EQ(content.size(), message.size);
    // Complete: its own length header matches its body.
    size_t header_end = content.find("\r\n\r\n");
    ASSERT_NE(header_end, std::string::npos);
    size_t length_at = content.find("X-Length: ") + 10;
    EXPECT_EQ(std::stoul(content.substr(length_at)), content.size() - header_end - 4) << message.id;
    if (committed.count(message.id)) {
      EXPECT_EQ(content, content_for(committed[message.id])) << message.id;
    }
  }
  // Every acknowledged commit survived; at most the one being committed at the kill is extra.
  for (const auto& [id, index] : committed) EXPECT_TRUE(found.count(id)) << id << " (message " << index << ")";
  EXPECT_LE(found.size(), committed.size() + 1);
  if (pause_at >= 0) {
    EXPECT_EQ(found.size(), static_cast<size_t>(pause_at));
  }
}

TEST(SpoolCrash, KilledHalfWayThroughAMessage) { kill_writer_and_check(5); }

// Killed at whatever point it reached: while appending, in the group commit's syncs, or between messages.
TEST(SpoolCrash, KilledAtAnArbitraryPoint) { kill_writer_and_check(-1); }

// The same with every commit renamed into active/ before its syncfs() (spool_dir.h).
TEST(SpoolCrash, KilledAtAnArbitraryPointWithRenameFirst) { kill_writer_and_check(-1, SpoolDir::SyncMethod::syncfs); }

}  // namespace
}  // namespace smarthost::queue
