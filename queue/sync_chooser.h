// How a group of new spool files is made durable: one syncfs() or an fdatasync() per file, whichever has cost less
// lately. syncfs() is the cheaper from three files on when the spool's file system is quiet (queue/group_commit.h
// has the table), but it writes back every dirty file of that file system: on one shared with a busy database or
// log it waits for their data too, and can cost many times its usual price. So both costs are measured as the spool
// runs (moving averages), per-file syncs take over when one syncfs() would cost more than they do, and syncfs() is
// tried again every `kProbeEvery` groups so that it comes back once the other writer is quiet.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace smarthost::queue {

class SyncChooser {
 public:
  static constexpr size_t kMinFilesForSyncfs = 3;
  static constexpr uint64_t kProbeEvery = 64;

  // True: sync the group's `files` with one syncfs(); false: fdatasync() each. `renamed_first`: the files may be
  // renamed into their folder before the sync (SpoolChange::checked), so one syncfs() also does the work of the
  // folder fsync that per-file syncs need after their renames: then it is the cheaper from one file on (1,850-2,600
  // against 1,450-1,600 commits/s with one session; queue_commit_bench), and the comparison counts that fsync too.
  // Until both costs are known, a group of fewer than three syncs file by file (with a syncfs() probe now and then).
  bool use_syncfs(size_t files, bool renamed_first = false);
  // What a sync took (for the averages).
  void syncfs_took(std::chrono::nanoseconds duration);
  void fdatasync_took(size_t files, std::chrono::nanoseconds duration);
  void folder_sync_took(std::chrono::nanoseconds duration);

  // The averages in nanoseconds (0 until measured), for tests and logs.
  double syncfs_cost() const;
  double per_file_cost() const;
  double folder_sync_cost() const;

 private:
  mutable std::mutex mutex_;
  double syncfs_ns_ = 0;    // moving average of one syncfs()
  double per_file_ns_ = 0;  // moving average of one fdatasync()
  double folder_ns_ = 0;    // moving average of one folder fsync()
  uint64_t since_probe_ = 0;  // groups synced file by file since the last syncfs()
};

}  // namespace smarthost::queue
