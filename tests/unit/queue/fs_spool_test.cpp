// The file-system spool: durable commits survive a re-open, recovery cleans up, concurrent commits share their
// syncs, and storage errors come back from commit() without touching what is already queued.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>
#include <mutex>
#include <condition_variable>

#include "queue/queue_id.h"
#include "queue/spool_record.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using test::commit;
using test::count_files;
using test::envelope;
using test::open_spool;
using test::inode_of;
using test::remove_delivered;
using test::sample_message;

TEST(FsSpool, CommittedMessageIsFoundAfterReopen) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto env = envelope("alice@example.org", {"bob@example.net", "carol@example.net"});
  env.auth_user = "alice";
  env.body = mail::BodyType::eight_bit_mime;
  QueueId id;
  {
    auto spool = open_spool(dir.path());
    CommitResult result = commit(io, *spool, env, sample_message());
    ASSERT_FALSE(result.error) << result.error.message();
    id = result.id;
    EXPECT_TRUE(is_queue_id(id));
    EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
  }
  auto spool = open_spool(dir.path());
  std::error_code error;
  auto message = spool->dir().load(Folder::active, id, error);
  ASSERT_TRUE(message) << error.message();
  EXPECT_EQ(message->envelope.mail_from, "alice@example.org");
  ASSERT_EQ(message->envelope.recipients.size(), 2u);
  EXPECT_EQ(message->envelope.recipients[1].address, "carol@example.net");
  EXPECT_EQ(message->envelope.auth_user, "alice");
  EXPECT_EQ(message->envelope.client_helo, "client.example");
  EXPECT_EQ(message->envelope.body, mail::BodyType::eight_bit_mime);
  EXPECT_NE(message->envelope.received_at, std::chrono::system_clock::time_point{});
  EXPECT_EQ(message->size, sample_message().size());
  EXPECT_EQ(test::read_range(message->content_path, message->content_offset), sample_message());
}

TEST(FsSpool, StreamsLargeMessagesThroughItsBuffer) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  FsSpoolOptions options;
  options.write_buffer = 4096;
  auto spool = open_spool(dir.path(), options);
  std::error_code error;
  auto writer = spool->begin(error);
  ASSERT_TRUE(writer);
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    std::string line = "line " + std::to_string(i) + std::string(i % 97, 'x') + "\r\n";
    writer->append(line);
    expected += line;
  }
  writer->append(std::string(10000, 'y'));  // larger than the buffer: written straight through
  expected += std::string(10000, 'y');
  EXPECT_EQ(writer->size(), expected.size());
  // The bytes are on their way to the file before commit: the writer keeps at most its buffer.
  EXPECT_GE(fs::file_size(dir.path() / "tmp" / writer->id()), expected.size() - 4096 + kRecordBlock);

  CommitResult result = test::commit_writer(io, *writer, envelope("a@x.org", {"b@y.org"}));
  ASSERT_FALSE(result.error) << result.error.message();
  EXPECT_EQ(test::stored_content(*spool, result.id), expected);
}

TEST(FsSpool, BytesAppendedInPlaceAreStoredLikeAppendedOnes) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  FsSpoolOptions options;
  options.write_buffer = 4096;
  auto spool = open_spool(dir.path(), options);
  std::error_code error;
  auto writer = spool->begin(error);
  ASSERT_TRUE(writer);
  writer->append("Received: by test\r\n");
  std::string expected = "Received: by test\r\n";
  for (int i = 0; i < 500; ++i) {
    // As a decoder does: straight into the writer's buffer, which is written out once past write_buffer.
    std::string chunk = "chunk " + std::to_string(i) + std::string(static_cast<size_t>(i * 7 % 300), 'z') + "\r\n";
    std::string& out = writer->append_buffer();
    const size_t before = out.size();
    out += chunk;
    writer->appended(before);
    expected += chunk;
    EXPECT_LT(writer->append_buffer().size(), 4096u + 1024u) << "the buffer is written out, not grown";
  }
  EXPECT_EQ(writer->size(), expected.size());
  CommitResult result = test::commit_writer(io, *writer, envelope("a@x.org", {"b@y.org"}));
  ASSERT_FALSE(result.error) << result.error.message();
  EXPECT_EQ(test::stored_content(*spool, result.id), expected);
}

TEST(FsSpool, ThousandsOfRecipientsMoveTheContentBehindABiggerRecord) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  std::vector<std::string> recipients;
  for (int i = 0; i < 400; ++i) recipients.push_back("user" + std::to_string(i) + "@example.net");
  CommitResult result = commit(io, *spool, envelope("a@example.org", recipients), sample_message());
  ASSERT_FALSE(result.error);
  std::error_code error;
  auto message = spool->dir().load(Folder::active, result.id, error);
  ASSERT_TRUE(message);
  EXPECT_GT(message->content_offset, kRecordBlock);
  EXPECT_EQ(message->envelope.recipients.size(), 400u);
  EXPECT_EQ(test::read_range(message->content_path, message->content_offset), sample_message());
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
}

TEST(FsSpool, AbandonedWriterLeavesNothing) {
  smarthost::test::TempDir dir;
  auto spool = open_spool(dir.path());
  std::error_code error;
  {
    auto writer = spool->begin(error);
    writer->append("Subject: never committed\r\n\r\n");
    EXPECT_EQ(count_files(dir.path() / "tmp"), 1u);
  }
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
  EXPECT_EQ(count_files(dir.path() / "active"), 0u);
}

TEST(FsSpool, ADeliveredMessageIsRemovedWithoutADirectorySyncAnAdminRemovalWithOne) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  int directory_syncs = 0;
  FsSpoolOptions options;
  options.hooks.on_sync = [&](SyncKind kind) { directory_syncs += kind == SyncKind::directory; };
  auto spool = open_spool(dir.path(), std::move(options));
  const auto env = envelope("a@example.org", {"b@example.net"});
  QueueId delivered = commit(io, *spool, env, sample_message()).id;
  QueueId removed = commit(io, *spool, env, sample_message()).id;
  std::error_code error;

  directory_syncs = 0;
  auto message = spool->dir().load(Folder::active, delivered, error);
  ASSERT_TRUE(message) << error.message();
  auto change = spool->dir().removal_change(*message, false);
  ASSERT_FALSE(spool->dir().apply(change));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / delivered));
  EXPECT_EQ(directory_syncs, 0) << "a crash may bring a delivered message back: delivered again, never lost";

  message = spool->dir().load(Folder::active, removed, error);
  ASSERT_TRUE(message) << error.message();
  change = spool->dir().removal_change(*message);
  ASSERT_FALSE(spool->dir().apply(change));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / removed));
  EXPECT_EQ(directory_syncs, 1) << "an operator's removal stays removed";
}

// A root written with a trailing slash, or relative to the working directory, works like an absolute one: commits,
// the recycling of a delivered message's file, and loading.
TEST(FsSpool, ARootWithATrailingSlashOrARelativePathWorksLikeAnAbsoluteOne) {
  smarthost::test::TempDir dir;
  fs::create_directories(dir.path() / "b");
  const fs::path roots[] = {dir.path() / "a" / "", fs::relative(dir.path() / "b"), dir.path() / "c"};
  for (const fs::path& root : roots) {
    SCOPED_TRACE(root.string());
    asio::io_context io;
    auto spool = open_spool(root);
    ASSERT_TRUE(spool);
    const auto env = envelope("a@example.org", {"b@example.net"});
    QueueId first = commit(io, *spool, env, sample_message()).id;
    ASSERT_FALSE(first.empty());
    EXPECT_TRUE(fs::exists(root / "active" / first));
    EXPECT_EQ(count_files(root / "tmp"), 0u);
    ASSERT_FALSE(remove_delivered(io, *spool, first));
    EXPECT_FALSE(fs::exists(root / "active" / first));
    EXPECT_EQ(count_files(root / "tmp"), 1u) << "the delivered file, kept for reuse";
    QueueId second = commit(io, *spool, env, sample_message("second")).id;
    std::error_code error;
    auto message = spool->dir().load(Folder::active, second, error);
    ASSERT_TRUE(message) << error.message();
    EXPECT_EQ(test::read_range(message->content_path, message->content_offset), sample_message("second"));
  }
}

// A removal unlinks the state sidecar only when the message may have one: never for a message fresh from its commit
// (an unlink per delivery saved), always once a retry wrote it or load() found it.
TEST(FsSpool, TheStateSidecarIsRemovedWhenTheMessageMayHaveOne) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  const auto env = envelope("a@example.org", {"b@example.net"});
  QueueId fresh = commit(io, *spool, env, sample_message()).id;
  QueueId retried = commit(io, *spool, env, sample_message()).id;
  std::error_code error;

  auto first = spool->dir().load(Folder::active, fresh, error);
  ASSERT_TRUE(first) << error.message();
  EXPECT_FALSE(first->state_file);
  EXPECT_EQ(spool->dir().removal_change(*first, false).removals.size(), 1u) << "no state to look for";

  auto second = spool->dir().load(Folder::active, retried, error);
  ASSERT_TRUE(second) << error.message();
  second->attempts = 1;
  auto write_state = spool->dir().state_change(*second, error);
  ASSERT_FALSE(error);
  ASSERT_FALSE(spool->dir().apply(write_state));
  ASSERT_TRUE(fs::exists(dir.path() / "active" / (retried + ".state")));
  auto reloaded = spool->dir().load(Folder::active, retried, error);
  ASSERT_TRUE(reloaded) << error.message();
  EXPECT_TRUE(reloaded->state_file) << "found by load()";
  auto removal = spool->dir().removal_change(*reloaded, false);
  ASSERT_FALSE(spool->dir().apply(removal));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / retried));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / (retried + ".state"))) << "the sidecar went with the message";

  // A move writes a state in the new folder, so the moved message has one there.
  auto moved = spool->dir().load(Folder::active, fresh, error);
  ASSERT_TRUE(moved) << error.message();
  auto move = spool->dir().move_change(*moved, Folder::hold, error);
  ASSERT_FALSE(error);
  ASSERT_FALSE(spool->dir().apply(move));
  EXPECT_TRUE(moved->state_file);
  auto gone = spool->dir().removal_change(*moved);
  ASSERT_FALSE(spool->dir().apply(gone));
  EXPECT_FALSE(fs::exists(dir.path() / "hold" / fresh));
  EXPECT_FALSE(fs::exists(dir.path() / "hold" / (fresh + ".state")));
}

TEST(FsSpool, UnsyncedRemovalsRunBesideTheGroupCommit) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  QueueId id = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message()).id;
  const uint64_t groups = spool->group_commit().groups();
  EXPECT_FALSE(remove_delivered(io, *spool, id));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / id));
  EXPECT_EQ(spool->group_commit().groups(), groups) << "a delivered message's unlinks never wait in a commit group";
}

TEST(FsSpool, ADeliveredMessagesFileIsReusedOnlyAfterActiveWasSyncedSinceItLeft) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  bool fail_directory_sync = false;
  int directory_syncs = 0;
  FsSpoolOptions options;
  options.hooks.fault = [&](SpoolStep step) {
    return step == SpoolStep::sync_directory && fail_directory_sync ? std::make_error_code(std::errc::io_error)
                                                                   : std::error_code();
  };
  options.hooks.on_sync = [&](SyncKind kind) { directory_syncs += kind == SyncKind::directory; };
  options.sync = SpoolDir::SyncMethod::fdatasync;  // readiness through folder fsyncs (spool_check_test: syncfs)
  auto spool = open_spool(dir.path(), std::move(options));
  const auto env = envelope("a@example.org", {"b@example.net"});
  const std::string big = sample_message() + std::string(20000, 'x') + "\r\n";
  QueueId delivered = commit(io, *spool, env, big).id;
  const ino_t inode = inode_of(dir.path() / "active" / delivered);

  directory_syncs = 0;
  ASSERT_FALSE(remove_delivered(io, *spool, delivered));
  EXPECT_FALSE(fs::exists(dir.path() / "active" / delivered));
  EXPECT_EQ(directory_syncs, 0) << "a delivery costs a rename, no sync";
  ASSERT_EQ(spool->file_pool().size(), 1u);
  ASSERT_EQ(count_files(dir.path() / "tmp"), 1u);

  // Until active/ has been synced since, the file is not handed out: a crash could still show it as `delivered`.
  fail_directory_sync = true;
  EXPECT_EQ(commit(io, *spool, env, sample_message("lost")).error, std::make_error_code(std::errc::io_error));
  fail_directory_sync = false;
  QueueId second = commit(io, *spool, env, sample_message("second")).id;
  EXPECT_NE(inode_of(dir.path() / "active" / second), inode) << "a new file: no sync of active/ had succeeded";
  EXPECT_EQ(spool->file_pool().size(), 1u);

  // The second commit's sync of active/ made the departure durable: the third message overwrites the file and is
  // cut to its own, shorter length, so no byte of the old one is left.
  QueueId third = commit(io, *spool, env, sample_message("third")).id;
  EXPECT_EQ(spool->file_pool().size(), 0u);
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
  EXPECT_EQ(inode_of(dir.path() / "active" / third), inode) << "the same file, not a new one";
  EXPECT_EQ(fs::file_size(dir.path() / "active" / third), kRecordBlock + sample_message("third").size());
  std::error_code error;
  auto message = spool->dir().load(Folder::active, third, error);
  ASSERT_TRUE(message) << error.message();
  EXPECT_EQ(message->id, third);
  EXPECT_EQ(message->size, sample_message("third").size());
  EXPECT_EQ(test::read_range(message->content_path, message->content_offset), sample_message("third"));

  // After a restart the pool starts empty: recovery clears tmp/ like any half-written file.
  ASSERT_FALSE(remove_delivered(io, *spool, third));
  EXPECT_EQ(count_files(dir.path() / "tmp"), 1u);
  spool.reset();
  spool = open_spool(dir.path());
  EXPECT_EQ(spool->recovery().removed_recycled, 1u);
  EXPECT_EQ(spool->recovery().removed_temporary, 0u) << "a kept file is not reported as half-written";
  EXPECT_EQ(spool->file_pool().size(), 0u);
}

// A recycled file whose earlier message was no longer than the new one is overwritten whole (no truncation is
// needed); it must still end exactly where the new message does.
TEST(FsSpool, ALongerMessageOverwritesARecycledFileWhole) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  const auto env = envelope("a@example.org", {"b@example.net"});
  QueueId first = commit(io, *spool, env, sample_message("short")).id;
  const ino_t inode = inode_of(dir.path() / "active" / first);
  ASSERT_FALSE(remove_delivered(io, *spool, first));
  ASSERT_EQ(spool->file_pool().size(), 1u);
  // Another commit's sync of active/ makes the departure durable, so the next message gets the file.
  commit(io, *spool, env, sample_message("makes the departure durable"));
  const std::string longer = sample_message("a longer message than the first") + std::string(3000, 'z') + "\r\n";
  QueueId reused = commit(io, *spool, env, longer).id;
  ASSERT_EQ(inode_of(dir.path() / "active" / reused), inode) << "the recycled file";
  EXPECT_EQ(fs::file_size(dir.path() / "active" / reused), kRecordBlock + longer.size());
  std::error_code error;
  auto message = spool->dir().load(Folder::active, reused, error);
  ASSERT_TRUE(message) << error.message();
  EXPECT_EQ(test::read_range(message->content_path, message->content_offset), longer);

  // The same length again: equal sizes, still exact.
  ASSERT_FALSE(remove_delivered(io, *spool, reused));
  commit(io, *spool, env, sample_message("makes the departure durable again"));
  std::string same = longer;
  same.replace(same.size() - 10, 5, "ABCDE");
  QueueId again = commit(io, *spool, env, same).id;
  ASSERT_EQ(inode_of(dir.path() / "active" / again), inode);
  EXPECT_EQ(fs::file_size(dir.path() / "active" / again), kRecordBlock + same.size());
  auto second = spool->dir().load(Folder::active, again, error);
  ASSERT_TRUE(second) << error.message();
  EXPECT_EQ(test::read_range(second->content_path, second->content_offset), same);
}

// The committed message keeps its writer's descriptor (mail/content_file.h) through its delivery and into the pool,
// and the next message written into that file writes through the same descriptor: no file is opened again.
TEST(FsSpool, AMessagesFileStaysOpenFromItsCommitIntoTheNextMessage) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  std::vector<StoredMessage> committed;
  spool->set_commit_listener([&](const StoredMessage& m) { committed.push_back(m); });
  const auto env = envelope("a@example.org", {"b@example.net"});

  QueueId first = commit(io, *spool, env, sample_message("first")).id;
  ASSERT_EQ(committed.size(), 1u);
  StoredMessage delivered = committed.back();
  ASSERT_TRUE(delivered.file) << "kept open for its delivery";
  const int fd = delivered.file->fd();
  struct stat by_fd {};
  ASSERT_EQ(::fstat(fd, &by_fd), 0);
  EXPECT_EQ(by_fd.st_ino, inode_of(dir.path() / "active" / first)) << "the descriptor is the queued file's";
  std::string content(delivered.size, '\0');
  ASSERT_EQ(::pread(fd, content.data(), content.size(), static_cast<off_t>(delivered.content_offset)),
            static_cast<ssize_t>(content.size()));
  EXPECT_EQ(content, sample_message("first"));
  EXPECT_EQ(spool->open_files()->open.load(), 1u);

  // Delivered: the file goes into the pool still open, and the message's own handle may go.
  std::optional<std::error_code> removed;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { removed = co_await spool->apply(spool->dir().removal_change(delivered, false)); },
      asio::detached);
  ASSERT_TRUE(test::run_until(io, [&] { return removed.has_value(); }));
  ASSERT_FALSE(*removed);
  committed.clear();
  delivered = StoredMessage{};
  ASSERT_EQ(spool->file_pool().size(), 1u);
  EXPECT_EQ(spool->open_files()->open.load(), 1u) << "the pool holds it open";
  EXPECT_GE(::fcntl(fd, F_GETFD), 0);

  commit(io, *spool, env, sample_message("makes the departure durable"));
  QueueId reused = commit(io, *spool, env, sample_message("reused")).id;
  ASSERT_EQ(committed.size(), 2u);
  ASSERT_TRUE(committed.back().file);
  EXPECT_EQ(committed.back().file->fd(), fd) << "written through the pooled descriptor";
  EXPECT_EQ(inode_of(dir.path() / "active" / reused), by_fd.st_ino);
  EXPECT_EQ(test::read_range(committed.back().content_path, committed.back().content_offset), sample_message("reused"));
  committed.clear();
  EXPECT_EQ(spool->open_files()->open.load(), 0u) << "closed with their last holders";
}

// Past its budget the spool keeps no more files open: those messages are read by path, as with a budget of 0.
TEST(FsSpool, KeptOpenFilesStayWithinTheirBudget) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  FsSpoolOptions options;
  options.kept_open_files = 2;
  auto spool = open_spool(dir.path(), std::move(options));
  std::vector<StoredMessage> committed;
  spool->set_commit_listener([&](const StoredMessage& m) { committed.push_back(m); });
  const auto env = envelope("a@example.org", {"b@example.net"});
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(commit(io, *spool, env, sample_message()).error);
  ASSERT_EQ(committed.size(), 3u);
  EXPECT_TRUE(committed[0].file);
  EXPECT_TRUE(committed[1].file);
  EXPECT_FALSE(committed[2].file) << "over the budget";
  EXPECT_EQ(spool->open_files()->open.load(), 2u);
  EXPECT_EQ(test::read_range(committed[2].content_path, committed[2].content_offset), sample_message());
  committed[0].file.reset();
  ASSERT_FALSE(commit(io, *spool, env, sample_message()).error);
  EXPECT_TRUE(committed.back().file) << "room again";

  smarthost::test::TempDir none_dir;
  FsSpoolOptions none;
  none.kept_open_files = 0;
  auto unkept = open_spool(none_dir.path(), std::move(none));
  std::optional<StoredMessage> only;
  unkept->set_commit_listener([&](const StoredMessage& m) { only = m; });
  ASSERT_FALSE(commit(io, *unkept, env, sample_message()).error);
  ASSERT_TRUE(only);
  EXPECT_FALSE(only->file);
}

TEST(FsSpool, ThePoolKeepsNoFileBeyondItsBounds) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  FsSpoolOptions options;
  options.recycled_files = 1;
  options.recycled_file_max_size = 8192;
  auto spool = open_spool(dir.path(), std::move(options));
  const auto env = envelope("a@example.org", {"b@example.net"});

  QueueId large = commit(io, *spool, env, std::string(10000, 'y')).id;
  ASSERT_FALSE(remove_delivered(io, *spool, large));
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u) << "bigger than recycled_file_max_size: unlinked";

  QueueId a = commit(io, *spool, env, sample_message()).id;
  QueueId b = commit(io, *spool, env, sample_message()).id;
  ASSERT_FALSE(remove_delivered(io, *spool, a));
  ASSERT_FALSE(remove_delivered(io, *spool, b));
  EXPECT_EQ(spool->file_pool().size(), 1u) << "the pool holds recycled_files at most";
  EXPECT_EQ(count_files(dir.path() / "tmp"), 1u);
  EXPECT_EQ(count_files(dir.path() / "active"), 0u);
}

TEST(FsSpool, AGroupWaitsForMessagesStillBeingReceivedButALoneCommitDoesNot) {
  using Clock = std::chrono::steady_clock;
  smarthost::test::TempDir dir;
  asio::io_context io;
  FsSpoolOptions options;
  options.commit_gather = std::chrono::seconds(2);  // long, so that the test does not depend on timing
  auto spool = open_spool(dir.path(), std::move(options));
  const auto env = envelope("a@example.org", {"b@example.net"});

  // Alone: nobody else is receiving a message, so the commit does not wait.
  auto start = Clock::now();
  EXPECT_FALSE(commit(io, *spool, env, sample_message()).error);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  const uint64_t groups = spool->group_commit().groups();

  // Two messages being received: the first to commit waits for the second, and they share one group.
  std::error_code error;
  auto first = spool->begin(error);
  auto second = spool->begin(error);
  first->append(sample_message("first"));
  second->append(sample_message("second"));
  std::optional<CommitResult> first_result, second_result;
  Clock::time_point first_done;
  start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        first_result = co_await first->commit(env);
        first_done = Clock::now();
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer later(io, std::chrono::milliseconds(200));
        co_await later.async_wait(asio::use_awaitable);
        second_result = co_await second->commit(env);
      },
      asio::detached);
  ASSERT_TRUE(test::run_until(io, [&] { return first_result && second_result; }));
  EXPECT_FALSE(first_result->error);
  EXPECT_FALSE(second_result->error);
  EXPECT_GE(first_done - start, std::chrono::milliseconds(150)) << "the first commit waited for the second";
  EXPECT_LT(first_done - start, std::chrono::milliseconds(1500)) << "and not for the whole window";
  EXPECT_EQ(spool->group_commit().groups(), groups + 1) << "one flush for both";
}

TEST(FsSpool, RecoveryRemovesHalfWrittenFilesAndReattachesStates) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  QueueId id;
  {
    auto spool = open_spool(dir.path());
    id = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message()).id;
    // A move to hold/ interrupted after the message went and before its state followed.
    std::error_code error;
    auto message = spool->dir().load(Folder::active, id, error);
    ASSERT_TRUE(message);
    message->attempts = 2;
    auto change = spool->dir().state_change(*message, error);
    ASSERT_FALSE(spool->dir().apply(change));
    fs::rename(dir.path() / "active" / id, dir.path() / "hold" / id);
    // An orphaned state, and a crash in the middle of writing two messages.
    dir.write("failed/0000000000000.state", "smarthost-state 1\nend\n");
    dir.write("tmp/0000000000001", "smarthost-spool 1 4096\nid 0000");
    dir.write("tmp/0000000000002.state.1.1", "smarthost-state 1\natt");
  }
  auto spool = open_spool(dir.path());
  EXPECT_EQ(spool->recovery().removed_temporary, 2u);
  EXPECT_EQ(spool->recovery().reattached_states, 1u);
  EXPECT_EQ(spool->recovery().removed_orphans, 1u);
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "failed" / "0000000000000.state"));
  std::error_code error;
  auto held = spool->dir().load(Folder::hold, id, error);
  ASSERT_TRUE(held) << error.message();
  EXPECT_EQ(held->attempts, 2u);
}

TEST(FsSpool, NewIdsSortAfterQueuedOnesWrittenBeforeTheClockWasSetBack) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  QueueIdGenerator ahead;
  const QueueId future = ahead.next(std::chrono::system_clock::now() + std::chrono::hours(1));
  {
    auto spool = open_spool(dir.path());
    QueueId id = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message()).id;
    ASSERT_FALSE(id.empty());
    fs::rename(dir.path() / "active" / id, dir.path() / "hold" / future);  // queued an hour "later", held
  }
  auto spool = open_spool(dir.path());
  EXPECT_EQ(spool->recovery().newest_id, future);
  QueueId next = commit(io, *spool, envelope("c@example.org", {"d@example.net"}), "Subject: x\r\n\r\nnew\r\n").id;
  EXPECT_GT(next, future);
  EXPECT_EQ(test::read_range((dir.path() / "hold" / future).string(), 4096), sample_message()) << "the held message is intact";
}

TEST(FsSpool, SecondOpenIsRefusedWhileTheFirstHoldsTheLock) {
  smarthost::test::TempDir dir;
  auto first = open_spool(dir.path());
  std::error_code error;
  auto second = FsSpool::open(dir.path(), {}, error);
  EXPECT_FALSE(second);
  EXPECT_EQ(error, std::errc::resource_unavailable_try_again);
}

TEST(FsSpool, ConcurrentCommitsShareTheirSyncs) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  constexpr int kMessages = 20;
  std::mutex mutex;
  std::condition_variable changed;
  int writes = 0;
  int data_syncs = 0, directory_syncs = 0, filesystem_syncs = 0;
  bool first_sync = true;
  FsSpoolOptions options;
  options.hooks.fault = [&](SpoolStep step) -> std::error_code {
    std::unique_lock lock(mutex);
    if (step == SpoolStep::write) {
      ++writes;
      changed.notify_all();
    }
    // Hold the first group's sync until every session has handed its message over (two writes each: content
    // and record), the way a slow disk would: they must then all share the next round.
    if (step == SpoolStep::sync && std::exchange(first_sync, false)) {
      changed.wait_for(lock, std::chrono::seconds(5), [&] { return writes >= 2 * kMessages; });
    }
    return {};
  };
  options.hooks.on_sync = [&](SyncKind kind) {
    std::lock_guard lock(mutex);
    (kind == SyncKind::directory ? directory_syncs : data_syncs)++;
    filesystem_syncs += kind == SyncKind::filesystem;
  };
  auto spool = open_spool(dir.path(), std::move(options));
  {
    std::lock_guard lock(mutex);
    data_syncs = directory_syncs = filesystem_syncs = 0;  // opening synced the new folders
  }

  std::vector<std::unique_ptr<SpoolWriter>> writers;
  std::vector<std::optional<CommitResult>> results(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    std::error_code error;
    writers.push_back(spool->begin(error));
    writers.back()->append(sample_message("message " + std::to_string(i)));
  }
  const auto env = envelope("a@x.org", {"b@y.org"});
  for (int i = 0; i < kMessages; ++i) {
    asio::co_spawn(
        io, [&, i]() -> asio::awaitable<void> { results[i] = co_await writers[i]->commit(env); }, asio::detached);
  }
  ASSERT_TRUE(test::run_until(io, [&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  }));
  for (const auto& result : results) EXPECT_FALSE(result->error);
  EXPECT_EQ(count_files(dir.path() / "active"), static_cast<size_t>(kMessages));
  uint64_t groups = spool->group_commit().groups();
  EXPECT_LE(groups, 2u);
  std::lock_guard lock(mutex);
  // One syncfs per group, which also makes the renames durable, or fdatasync per file for a group of one or two
  // and one folder fsync: at most three data syncs instead of twenty, and a folder sync only beside fdatasync.
  EXPECT_EQ(static_cast<uint64_t>(directory_syncs + filesystem_syncs), groups);
  EXPECT_LE(data_syncs, 3);
  EXPECT_GE(data_syncs, 1);
}

// Both ways of syncing: file by file (data, rename, folder), and renamed first under one syncfs().
class FsSpoolDiskFull : public ::testing::TestWithParam<SpoolDir::SyncMethod> {};

TEST_P(FsSpoolDiskFull, IsReportedByCommitAndQueuedMailIsUntouched) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  std::atomic<SpoolStep> failing_step{SpoolStep::create};
  std::atomic<bool> failing{false};
  FsSpoolOptions options;
  options.sync = GetParam();
  options.hooks.fault = [&](SpoolStep step) -> std::error_code {
    if (failing && step == failing_step) return std::make_error_code(std::errc::no_space_on_device);
    return {};
  };
  auto spool = open_spool(dir.path(), std::move(options));
  CommitResult kept = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message());
  ASSERT_FALSE(kept.error);

  std::vector<SpoolStep> steps{SpoolStep::write, SpoolStep::sync, SpoolStep::rename};
  if (GetParam() == SpoolDir::SyncMethod::fdatasync) steps.push_back(SpoolStep::sync_directory);
  for (SpoolStep step : steps) {
    failing_step = step;
    failing = true;
    CommitResult full = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message());
    failing = false;
    EXPECT_EQ(full.error, std::errc::no_space_on_device) << "step " << static_cast<int>(step);
    EXPECT_TRUE(full.id.empty());
    EXPECT_EQ(count_files(dir.path() / "active"), 1u) << "step " << static_cast<int>(step);
    EXPECT_EQ(count_files(dir.path() / "tmp"), 0u) << "step " << static_cast<int>(step);
  }
  failing_step = SpoolStep::create;
  failing = true;
  std::error_code error;
  EXPECT_FALSE(spool->begin(error));
  EXPECT_EQ(error, std::errc::no_space_on_device);
  failing = false;

  std::error_code load_error;
  auto message = spool->dir().load(Folder::active, kept.id, load_error);
  ASSERT_TRUE(message);
  EXPECT_EQ(test::read_range(message->content_path, message->content_offset), sample_message());
}

INSTANTIATE_TEST_SUITE_P(SyncMethods, FsSpoolDiskFull,
                         ::testing::Values(SpoolDir::SyncMethod::fdatasync, SpoolDir::SyncMethod::syncfs));

TEST(FsSpool, RealDiskFullOnASmallTmpfs) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  smarthost::test::TempDir dir;
  fs::path mount_point = dir.path() / "small";
  fs::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};
  asio::io_context io;
  {
    auto spool = open_spool(mount_point);
    ASSERT_TRUE(spool);
    CommitResult kept = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message());
    ASSERT_FALSE(kept.error);
    CommitResult full =
        commit(io, *spool, envelope("a@example.org", {"b@example.net"}), std::string(2 * 1024 * 1024, 'x'));
    EXPECT_EQ(full.error, std::errc::no_space_on_device);
    EXPECT_EQ(count_files(mount_point / "active"), 1u);
    EXPECT_EQ(count_files(mount_point / "tmp"), 0u);
    // Space is back once the failed message is gone: the next one goes through.
    EXPECT_FALSE(commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message()).error);
  }
}

}  // namespace
}  // namespace smarthost::queue
