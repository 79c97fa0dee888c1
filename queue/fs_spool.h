// The file-system spool: implements Spool (spool.h) on a directory, with streaming writers, group commit and
// crash recovery. It stores and hands over messages; when to deliver them is the scheduler's business.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "queue/file_pool.h"
#include "queue/group_commit.h"
#include "queue/queue_id.h"
#include "queue/spool.h"
#include "queue/spool_dir.h"
#include "queue/stored_message.h"

namespace smarthost::queue {

// Where an uncommitted message's bytes sit, for passthrough delivery (see FsSpool::stage).
struct StagedMessage {
  std::error_code error;  // the first write error of the writer, if any
  std::string path;       // its temporary file in tmp/
  uint64_t offset = 0;    // where the message starts in that file; it runs to the end
  uint64_t size = 0;
};

// The file in the spool's root whose presence says the last FsSpool on it stopped cleanly.
inline constexpr std::string_view kCleanStopFile = "clean-stop";

struct FsSpoolOptions {
  SpoolHooks hooks;  // fault injection and sync counting, for tests
  SpoolDir::SyncMethod sync = SpoolDir::SyncMethod::automatic;
  size_t write_buffer = 64 * 1024;  // bytes a writer holds before writing them to its file
  // Commit delay (group_commit.h): how long a group may wait for messages still being received.
  std::chrono::microseconds commit_gather = std::chrono::milliseconds(1);
  // Delivered messages' files kept for new messages (file_pool.h): how many, and up to what size. 0 = none.
  size_t recycled_files = 256;
  uint64_t recycled_file_max_size = 256 * 1024;
  // Spool files kept open from commit to delivery and in the pool (mail/content_file.h), at most; also at most a
  // quarter of the process's descriptor limit. 0 = none: every delivery and every reuse opens the file.
  size_t kept_open_files = 512;
};

class FsSpool final : public Spool {
 public:
  // Opens the spool at `root` (creating its folders), takes its lock and recovers it (recovery()); after a stop
  // that was not clean it also checks every message's content against its record (SpoolDir::check_contents).
  // Null with `error` set when the directory is unusable or another process holds it.
  static std::unique_ptr<FsSpool> open(const std::filesystem::path& root, FsSpoolOptions options,
                                       std::error_code& error);
  ~FsSpool() override;  // waits for pending commits; the executors they complete on must still exist

  std::unique_ptr<SpoolWriter> begin(std::error_code& error) override;

  // Writes out what `writer` (made by this spool's begin()) still buffers and says where its content lies, so a
  // transport can read it without a commit. The file stays the writer's and goes away with it; nothing is
  // queued and nothing is fsynced. Fails (invalid_argument) for a writer of another spool or one committed.
  StagedMessage stage(SpoolWriter& writer);

  const SpoolDir& dir() const { return dir_; }
  const RecoveryReport& recovery() const { return recovery_; }
  const GroupCommit& group_commit() const { return group_; }
  SpoolSyncStats sync_stats() const { return {group_.groups(), group_.changes(), dir_.sync_counts()}; }
  GroupCommit& group_commit() { return group_; }

  // Applies a change through the group commit (an unsynced removal through the cleanup thread); completes on the
  // awaiting coroutine's executor.
  boost::asio::awaitable<std::error_code> apply(SpoolChange change);

  // Called after each committed message, on the committing coroutine's thread (so it must be cheap and
  // thread-safe: the scheduler posts to its own strand). Set before sessions start.
  void set_commit_listener(std::function<void(const StoredMessage&)> listener);
  void committed(const StoredMessage& message);

  size_t write_buffer() const { return write_buffer_; }
  const FilePool& file_pool() const { return pool_; }
  // The budget of spool files kept open (mail/content_file.h).
  const std::shared_ptr<mail::ContentFile::Budget>& open_files() const { return open_files_; }

 private:
  FsSpool(SpoolDir dir, SpoolLock lock, FsSpoolOptions options);

  SpoolDir dir_;
  SpoolLock lock_;
  size_t write_buffer_;
  RecoveryReport recovery_;
  QueueIdGenerator ids_;
  std::mutex listener_mutex_;
  std::function<void(const StoredMessage&)> listener_;
  FilePool pool_;
  std::shared_ptr<mail::ContentFile::Budget> open_files_;
  // Marks a clean stop when destroyed, after the group commits declared below it have finished every commit: the
  // next open() then skips check_contents() (spool_dir.h).
  struct CleanStopMarker {
    const SpoolDir& dir;
    ~CleanStopMarker();
  } clean_stop_{dir_};
  // Unlinks that need no sync (delivered messages whose file the pool cannot keep) run on their own thread: an
  // unlink costs 0.1-0.3 ms on ext4, and on the group-commit thread it held up the next group of commits. Files the
  // pool keeps are renamed on the caller's thread (apply()).
  GroupCommit cleanup_;
  GroupCommit group_;  // last: its thread stops first
};

}  // namespace smarthost::queue
