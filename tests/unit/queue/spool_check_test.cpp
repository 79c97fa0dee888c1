// Torn-file safety of the rename-first commit: a new message's record carries its content's length and CRC-32C; a
// syncfs() group renames such files into active/ before the one sync that makes data and folder entries durable;
// and after a stop that was not clean, recovery sets aside (in corrupt/) every file whose content does not match
// its record. A torn file is what a power cut between the rename and the sync could leave: the states a real disk
// may show are written here by hand (a kill cannot produce them: the page cache survives it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "queue/crc32c.h"
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
using test::sample_message;

void overwrite(const fs::path& path, uint64_t offset, std::string_view bytes) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file) << path;
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

QueueId next_id_after(const QueueId& id) {
  QueueIdGenerator ids;
  ids.follow(id);
  return ids.next();
}

// Counts the syncs by kind.
struct SyncTally {
  int filesystem = 0, file = 0, directory = 0;
  void operator()(SyncKind kind) {
    (kind == SyncKind::filesystem ? filesystem : kind == SyncKind::file ? file : directory)++;
  }
};

// Options for a spool that syncs every group with syncfs() (new messages renamed first) and counts its syncs.
FsSpoolOptions syncfs_counted(SyncTally& tally) {
  FsSpoolOptions options;
  options.sync = SpoolDir::SyncMethod::syncfs;
  options.hooks.on_sync = std::ref(tally);
  return options;
}

// Both implementations: the one this CPU takes, and the tables of CPUs without SSE 4.2.
class Crc32cTest : public ::testing::TestWithParam<uint32_t (*)(uint32_t, std::string_view)> {};

TEST_P(Crc32cTest, KnownVectors) {
  auto crc = GetParam();
  // The check value of the CRC catalogue, and the three 32-octet vectors of RFC 3720, appendix B.4.
  EXPECT_EQ(crc(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(crc(0, std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc(0, std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc(0, ascending), 0x46DD794Eu);
  EXPECT_EQ(crc(0, ""), 0u);
}

TEST_P(Crc32cTest, ContinuesAcrossPiecesSplitAnywhere) {
  auto crc = GetParam();
  std::string text;
  for (int i = 0; i < 1000; ++i) text.push_back(static_cast<char>(i * 7 + i / 13));
  const uint32_t whole = crc(0, text);
  EXPECT_EQ(whole, crc32c(0, text)) << "both implementations agree";
  for (size_t cut = 0; cut <= text.size(); cut += 37) {
    std::string_view view(text);
    EXPECT_EQ(crc(crc(0, view.substr(0, cut)), view.substr(cut)), whole) << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, Crc32cTest, ::testing::Values(&crc32c, &crc32c_portable));

TEST(SpoolRecordCheck, RoundTripsAndRejectsMalformedLines) {
  StoredMessage message;
  message.id = "0123456789ABC";
  message.envelope = envelope("a@example.org", {"b@example.net"});
  message.check = ContentCheck{4242, 0x0000BEEFu};
  std::string record = encode_record(message);
  EXPECT_NE(record.find("\ncheck 4242 0000beef\n"), std::string::npos);
  StoredMessage parsed;
  std::string error;
  ASSERT_TRUE(parse_record(record, parsed, error)) << error;
  ASSERT_TRUE(parsed.check);
  EXPECT_EQ(*parsed.check, (ContentCheck{4242, 0x0000BEEFu}));

  message.check.reset();
  ASSERT_TRUE(parse_record(encode_record(message), parsed, error)) << error;
  EXPECT_FALSE(parsed.check) << "records of other writers carry none";

  for (std::string_view bad : {"check 4242\n", "check x 0000beef\n", "check 4242 beef\n", "check 4242 0000beeg\n"}) {
    std::string broken = "smarthost-spool 1 4096\nid 0123456789ABC\n" + std::string(bad) + "end\n";
    EXPECT_FALSE(parse_record(broken, parsed, error)) << bad;
    EXPECT_EQ(error, "bad check") << bad;
  }
}

TEST(SpoolRenameFirst, ASyncfsGroupMakesDataAndFolderDurableWithOneSync) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  SyncTally tally;
  auto spool = open_spool(dir.path(), syncfs_counted(tally));
  tally = {};
  const std::string content = sample_message("renamed first");
  CommitResult result = commit(io, *spool, envelope("a@example.org", {"b@example.net"}), content);
  ASSERT_FALSE(result.error) << result.error.message();
  EXPECT_EQ(tally.filesystem, 1);
  EXPECT_EQ(tally.directory, 0) << "the syncfs() after the rename made the folder entry durable";
  EXPECT_EQ(tally.file, 0);

  std::error_code error;
  auto message = spool->dir().load(Folder::active, result.id, error);
  ASSERT_TRUE(message) << error.message();
  ASSERT_TRUE(message->check);
  EXPECT_EQ(*message->check, (ContentCheck{content.size(), crc32c(0, content)}));
}

TEST(SpoolRenameFirst, AFailedSyncLeavesNoMessageBehind) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  std::atomic<bool> failing{false};
  FsSpoolOptions options;
  options.sync = SpoolDir::SyncMethod::syncfs;
  options.hooks.fault = [&](SpoolStep step) {
    return failing && step == SpoolStep::sync ? std::make_error_code(std::errc::io_error) : std::error_code();
  };
  auto spool = open_spool(dir.path(), std::move(options));
  const auto env = envelope("a@example.org", {"b@example.net"});
  CommitResult kept = commit(io, *spool, env, sample_message("kept"));
  ASSERT_FALSE(kept.error);
  failing = true;
  CommitResult lost = commit(io, *spool, env, sample_message("lost"));
  failing = false;
  EXPECT_EQ(lost.error, std::errc::io_error);
  EXPECT_EQ(count_files(dir.path() / "active"), 1u) << "the renamed file was taken back out";
  EXPECT_TRUE(fs::exists(dir.path() / "active" / kept.id));
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0u);
}

// The file pool hands a delivered message's file out once its departure from active/ is durable; a syncfs() that
// began after the departure makes it so as well as an fsync of active/ does.
TEST(SpoolRenameFirst, RecycledFilesComeBackWithoutAnyFolderSync) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  SyncTally tally;
  auto spool = open_spool(dir.path(), syncfs_counted(tally));
  const auto env = envelope("a@example.org", {"b@example.net"});
  QueueId first = commit(io, *spool, env, sample_message("first")).id;
  const ino_t inode = test::inode_of(dir.path() / "active" / first);
  tally = {};
  ASSERT_FALSE(test::remove_delivered(io, *spool, first));
  ASSERT_EQ(spool->file_pool().size(), 1u);
  QueueId second = commit(io, *spool, env, sample_message("second")).id;
  EXPECT_NE(test::inode_of(dir.path() / "active" / second), inode) << "its departure was not durable yet";
  QueueId third = commit(io, *spool, env, sample_message("third")).id;
  EXPECT_EQ(test::inode_of(dir.path() / "active" / third), inode) << "the second commit's syncfs() made it so";
  EXPECT_EQ(tally.directory, 0);
  EXPECT_EQ(tally.filesystem, 2);
}

TEST(SpoolCleanStop, AMarkedStopSkipsTheCheckAndTheMarkIsGoneWhileRunning) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  auto spool = open_spool(dir.path());
  EXPECT_TRUE(spool->recovery().checked_contents) << "a new spool has no mark";
  EXPECT_FALSE(fs::exists(dir.path() / kCleanStopFile));
  ASSERT_FALSE(commit(io, *spool, envelope("a@example.org", {"b@example.net"}), sample_message()).error);
  spool.reset();
  EXPECT_TRUE(fs::exists(dir.path() / kCleanStopFile));
  spool = open_spool(dir.path());
  EXPECT_FALSE(spool->recovery().checked_contents);
  EXPECT_EQ(spool->recovery().checked, 0u);
  EXPECT_FALSE(fs::exists(dir.path() / kCleanStopFile)) << "a crash from now on must be noticed";
}

// What a power cut between the rename and the syncfs() may leave, and what recovery makes of it.
TEST(SpoolCleanStop, AfterACrashTornFilesAreSetAsideAndWholeOnesKept) {
  smarthost::test::TempDir dir;
  asio::io_context io;
  const auto env = envelope("a@example.org", {"b@example.net"});
  QueueId whole, flipped, truncated, old_record, never_written;
  {
    auto spool = open_spool(dir.path());
    whole = commit(io, *spool, env, sample_message("whole")).id;
    flipped = commit(io, *spool, env, sample_message("flipped")).id;
    truncated = commit(io, *spool, env, sample_message("truncated")).id;
    old_record = commit(io, *spool, env, sample_message("old record")).id;
  }
  fs::remove(dir.path() / kCleanStopFile);  // the crash
  const fs::path active = dir.path() / "active";
  // Some of the content's blocks are stale: same length, other bytes.
  overwrite(active / flipped, kRecordBlock + 10, "X");
  // The size reached the disk shorter than the record says.
  fs::resize_file(active / truncated, kRecordBlock + 20);
  // A recycled file: the rename reached the disk, the new record did not (the old message's record is there).
  never_written = next_id_after(old_record);
  fs::rename(active / old_record, active / never_written);
  std::ofstream(active / (never_written + ".state")) << "smarthost-state 1\nend\n";
  // A new file whose data never reached the disk: its blocks read as zeros.
  const QueueId zeros = next_id_after(never_written);
  std::ofstream(active / zeros) << std::string(kRecordBlock + 100, '\0');
  // A record written before checks were kept: synced before its rename, so trusted as it is.
  StoredMessage legacy;
  legacy.id = next_id_after(zeros);
  legacy.envelope = env;
  std::ofstream(active / legacy.id, std::ios::binary) << encode_record(legacy) << "Subject: legacy\r\n\r\nhi\r\n";

  auto spool = open_spool(dir.path());
  const RecoveryReport& report = spool->recovery();
  EXPECT_TRUE(report.checked_contents);
  EXPECT_EQ(report.checked, 3u) << "whole, flipped and truncated carry a check; the others are unreadable or old";
  EXPECT_EQ(report.set_aside, 4u);
  const fs::path corrupt = dir.path() / "corrupt";
  for (const QueueId& id : {flipped, truncated, never_written, zeros}) {
    EXPECT_TRUE(fs::exists(corrupt / id)) << id;
    EXPECT_FALSE(fs::exists(active / id)) << id;
  }
  EXPECT_TRUE(fs::exists(corrupt / (never_written + ".state"))) << "its sidecar goes with it";
  EXPECT_EQ(count_files(active), 2u);
  std::error_code error;
  auto kept = spool->dir().load(Folder::active, whole, error);
  ASSERT_TRUE(kept) << error.message();
  EXPECT_EQ(test::read_range(kept->content_path, kept->content_offset), sample_message("whole"));
  EXPECT_TRUE(spool->dir().load(Folder::active, legacy.id, error)) << error.message();
}

}  // namespace
}  // namespace smarthost::queue
