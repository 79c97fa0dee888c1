// Scenario: the queue's file system fills up under a running `smarthost serve`. The queue directory is a small
// tmpfs mounted by the test (skipped when it cannot mount, e.g. without root). A message that does not fit is
// answered 452 4.3.1; the relay keeps running, loses nothing it acknowledged, and accepts again once there is
// room.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A tmpfs over `dir` for the test's lifetime (lazily unmounted, so a still-running relay cannot block it).
struct SmallFileSystem {
  explicit SmallFileSystem(const fs::path& dir) : path(dir) {
    fs::create_directories(dir);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=2m,mode=0700") == 0;
  }
  ~SmallFileSystem() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  fs::path path;
  bool mounted = false;
};

// Fills the file system at `dir` until a write fails; returns the filler's path.
fs::path fill(const fs::path& dir) {
  fs::path filler = dir / "filler";
  int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string block(64 * 1024, 'f');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  std::string byte(1, 'f');
  while (::write(fd, byte.data(), 1) > 0) {
  }
  ::close(fd);
  return filler;
}

TEST(QueueDiskFull, AnswersFourFiftyTwoAndKeepsRunning) {
  Relay relay;
  SmallFileSystem small(relay.queue_dir());
  if (!small.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
  ASSERT_TRUE(relay.start()) << relay.log();

  Letter letter;
  letter.subject = "before";
  ASSERT_TRUE(submit(relay.port(), letter).accepted());
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();

  fs::path filler = fill(relay.queue_dir());
  letter.subject = "while full";
  letter.body = std::string(100 * 1024, 'x') + "\r\n";
  for (int i = 0; i < 3; ++i) {
    auto sent = submit(relay.port(), letter);
    EXPECT_EQ(sent.end.substr(0, 9), "452 4.3.1") << sent.end;
  }
  EXPECT_TRUE(relay.running());
  EXPECT_NE(relay.log().find("spool commit failed"), std::string::npos) << relay.log();

  fs::remove(filler);
  letter.subject = "after";
  auto sent = submit(relay.port(), letter);
  EXPECT_EQ(reply_code(sent.end), 250) << sent.end;
  ASSERT_TRUE(relay.wait_delivered(2)) << relay.log();
  std::string subjects;
  for (const auto& path : relay.delivered()) {
    std::string content = read_file(path);
    if (content.find("Subject: while full") != std::string::npos) subjects += "full ";
  }
  EXPECT_EQ(subjects, "") << "a refused message was delivered";
  EXPECT_EQ(relay.delivered().size(), 2u);
  EXPECT_EQ(relay.stop(), 0);
}

}  // namespace
}  // namespace smarthost::test
