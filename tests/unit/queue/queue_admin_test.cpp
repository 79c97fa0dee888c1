// Offline queue administration against a spool directory no server holds: list, show, hold, release, retry,
// flush, remove; and refusal while a server holds the spool.
#include <gtest/gtest.h>

#include <filesystem>

#include "queue/queue_admin.h"
#include "queue_test_support.h"
#include "tests/support/temp_dir.h"

namespace smarthost::queue {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using std::chrono::system_clock;

class OfflineAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code error;
    auto spool = FsSpool::open(dir.path(), {}, error);
    ASSERT_TRUE(spool) << error.message();
    asio::io_context io;
    auto received = system_clock::now() - std::chrono::minutes(10);
    first = test::commit(io, *spool, test::envelope("alice@example.org", {"b@example.net"}), test::sample_message("one"),
                         received).id;
    second = test::commit(io, *spool, test::envelope("", {"c@example.net", "d@example.net"}),
                          test::sample_message("two"), received).id;
    // A failed message, as the scheduler leaves it with bounces off.
    auto message = spool->dir().load(Folder::active, second, error);
    ASSERT_TRUE(message);
    message->envelope.recipients[0].state = mail::RecipientState::failed;
    message->envelope.recipients[0].last_reply = "550 5.1.1 unknown";
    message->envelope.recipients[1].state = mail::RecipientState::delivered;
    message->attempts = 1;
    auto change = spool->dir().move_change(*message, Folder::failed, error);
    ASSERT_FALSE(error);
    ASSERT_FALSE(spool->dir().apply(change));
  }

  std::vector<QueueEntry> list(std::error_code& error) {
    std::vector<QueueEntry> entries;
    offline::list(dir.path(), [&](QueueEntry&& entry) { entries.push_back(std::move(entry)); }, error);
    return entries;
  }

  std::optional<StoredMessage> load(Folder folder, const QueueId& id) {
    std::error_code error;
    return SpoolDir(dir.path()).load(folder, id, error);
  }

  smarthost::test::TempDir dir;
  QueueId first, second;
};

TEST_F(OfflineAdminTest, ListsEveryFolder) {
  std::error_code error;
  auto entries = list(error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, first);
  EXPECT_EQ(entries[0].folder, Folder::active);
  EXPECT_EQ(entries[0].sender, "alice@example.org");
  EXPECT_GE(entries[0].age, std::chrono::minutes(10));
  EXPECT_EQ(entries[0].size, test::sample_message("one").size());
  EXPECT_EQ(entries[1].id, second);
  EXPECT_EQ(entries[1].folder, Folder::failed);
  EXPECT_EQ(entries[1].sender, "");
  EXPECT_EQ(entries[1].attempts, 1u);
  ASSERT_EQ(entries[1].recipients.size(), 2u);
  EXPECT_EQ(entries[1].recipients[0].last_reply, "550 5.1.1 unknown");
}

// The census behind the queue metrics counts what list shows without keeping it; a failed message's age does not
// count (it waits for nobody).
TEST_F(OfflineAdminTest, CursorWalksTheFoldersInBatches) {
  std::error_code error;
  auto spool = FsSpool::open(dir.path(), {}, error);
  ASSERT_TRUE(spool) << error.message();
  asio::io_context io;
  std::vector<QueueId> active{first};
  for (int i = 0; i < 4; ++i)
    active.push_back(test::commit(io, *spool, test::envelope("x@example.org", {"y@example.net"}),
                                  test::sample_message("more"), system_clock::now())
                         .id);
  EntryCursor cursor(spool->dir(), system_clock::now());
  std::vector<QueueEntry> batch;
  ASSERT_TRUE(cursor.next(batch, 2, error));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].id, active[0]);
  EXPECT_EQ(batch[1].id, active[1]);
  // A message that leaves the queue after the walk read its folder is skipped, not an error.
  auto gone = spool->dir().load(Folder::active, active[2], error);
  ASSERT_TRUE(gone);
  ASSERT_FALSE(remove_on_disk(spool->dir(), *gone));
  batch.clear();
  ASSERT_TRUE(cursor.next(batch, 2, error));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].id, active[3]);
  EXPECT_EQ(batch[1].id, active[4]);
  // Then the failed folder (hold/ is empty), and the end.
  batch.clear();
  EXPECT_FALSE(cursor.next(batch, 2, error));
  EXPECT_FALSE(error);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].id, second);
  EXPECT_EQ(batch[0].folder, Folder::failed);
  batch.clear();
  EXPECT_FALSE(cursor.next(batch, 2, error));
  EXPECT_TRUE(batch.empty());
}

TEST_F(OfflineAdminTest, TallyCountsFoldersBytesAndTheOldestWaitingMessage) {
  std::error_code error;
  SpoolDir spool_dir(dir.path());
  auto now = system_clock::now();
  QueueTally tally = tally_messages(spool_dir, now + std::chrono::hours(1), error);
  ASSERT_FALSE(error) << error.message();
  EXPECT_EQ(tally.active, 1u);
  EXPECT_EQ(tally.held, 0u);
  EXPECT_EQ(tally.failed, 1u);
  EXPECT_EQ(tally.bytes, test::sample_message("one").size() + test::sample_message("two").size());
  EXPECT_GE(tally.oldest_age, std::chrono::minutes(70));
  EXPECT_LT(tally.oldest_age, std::chrono::minutes(72));

  ASSERT_FALSE(offline::hold(dir.path(), first));
  tally = tally_messages(spool_dir, now, error);
  EXPECT_EQ(tally.active, 0u);
  EXPECT_EQ(tally.held, 1u);
  EXPECT_GE(tally.oldest_age, std::chrono::minutes(10));

  fs::remove_all(dir.path() / "hold");
  tally_messages(spool_dir, now, error);
  EXPECT_TRUE(error);
}

TEST_F(OfflineAdminTest, ShowsEnvelopeAndHeaders) {
  std::error_code error;
  auto details = offline::show(dir.path(), first, error);
  ASSERT_TRUE(details) << error.message();
  EXPECT_EQ(details->envelope.client_helo, "client.example");
  EXPECT_NE(details->headers.find("Subject: one\r\n"), std::string::npos);
  EXPECT_EQ(details->headers.find("Body line"), std::string::npos);
  EXPECT_FALSE(offline::show(dir.path(), "0000000000000", error));
  EXPECT_EQ(error, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(offline::show(dir.path(), "../active/x", error));
  EXPECT_EQ(error, std::errc::invalid_argument);
}

TEST_F(OfflineAdminTest, HoldAndRelease) {
  EXPECT_EQ(offline::release(dir.path(), first), std::errc::invalid_argument);  // not held
  EXPECT_FALSE(offline::hold(dir.path(), first));
  EXPECT_TRUE(load(Folder::hold, first));
  EXPECT_FALSE(load(Folder::active, first));
  EXPECT_FALSE(offline::release(dir.path(), first));
  auto released = load(Folder::active, first);
  ASSERT_TRUE(released);
  EXPECT_LE(released->next_attempt, system_clock::now());
  EXPECT_FALSE(fs::exists(dir.path() / "hold" / (first + ".state")));
}

TEST_F(OfflineAdminTest, RetryBringsAFailedMessageBack) {
  EXPECT_FALSE(offline::retry(dir.path(), second));
  auto retried = load(Folder::active, second);
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried->envelope.recipients[0].state, mail::RecipientState::pending);
  EXPECT_EQ(retried->envelope.recipients[1].state, mail::RecipientState::delivered);  // not sent twice
  EXPECT_FALSE(load(Folder::failed, second));
}

TEST_F(OfflineAdminTest, RetryAllAndFlushMakeEverythingDue) {
  // Push the first message's next attempt into the future, as a deferral would.
  SpoolDir spool_dir(dir.path());
  auto message = load(Folder::active, first);
  message->next_attempt = system_clock::now() + std::chrono::hours(1);
  std::error_code error;
  auto change = spool_dir.state_change(*message, error);
  ASSERT_FALSE(spool_dir.apply(change));
  EXPECT_GT(load(Folder::active, first)->next_attempt, system_clock::now());

  EXPECT_FALSE(offline::flush(dir.path()));
  EXPECT_LE(load(Folder::active, first)->next_attempt, system_clock::now());
  EXPECT_TRUE(load(Folder::failed, second));
  EXPECT_FALSE(offline::retry_all(dir.path()));
  EXPECT_TRUE(load(Folder::active, second));
}

TEST_F(OfflineAdminTest, RemoveOneAndAllFailed) {
  EXPECT_FALSE(offline::remove_failed(dir.path()));
  EXPECT_FALSE(load(Folder::failed, second));
  EXPECT_FALSE(fs::exists(dir.path() / "failed" / (second + ".state")));
  EXPECT_TRUE(load(Folder::active, first));
  EXPECT_FALSE(offline::remove(dir.path(), first));
  std::error_code error;
  EXPECT_TRUE(list(error).empty());
  EXPECT_EQ(offline::remove(dir.path(), first), std::errc::no_such_file_or_directory);
}

TEST_F(OfflineAdminTest, RefusedWhileAServerHoldsTheSpool) {
  std::error_code error;
  auto server = FsSpool::open(dir.path(), {}, error);
  ASSERT_TRUE(server);
  EXPECT_EQ(offline::hold(dir.path(), first), std::errc::resource_unavailable_try_again);
  EXPECT_TRUE(list(error).empty());
  EXPECT_EQ(error, std::errc::resource_unavailable_try_again);
  EXPECT_TRUE(load(Folder::active, first));
}

TEST(OfflineAdmin, MissingSpoolIsReported) {
  smarthost::test::TempDir dir;
  std::error_code error;
  offline::list(dir.path() / "nowhere", [](QueueEntry&&) { ADD_FAILURE() << "nothing to list"; }, error);
  EXPECT_EQ(error, std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace smarthost::queue
