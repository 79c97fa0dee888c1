// Group commit: one thread that makes the spool changes of many concurrent sessions durable together, so a
// burst of commits pays for one data sync and one fsync per folder instead of one round each. It does not
// decide what to write: callers prepare SpoolChanges (spool_dir.h) and await their completion here.
//
// Measured on the build machine (ext4 on virtio, 12 KiB files; queue/bench/fsync_cost.cpp, mean of 5 runs):
//   files  one round each (fdatasync+rename+dir fsync)  sequential fdatasync  4 threads of fdatasync  syncfs
//     1          0.47 ms                                0.46 ms               0.88 ms                0.51 ms
//     8          3.29 ms                                1.45 ms               1.71 ms                0.44 ms
//    32         14.57 ms                                5.25 ms               2.86 ms                0.86 ms
//   128         45.98 ms                               23.07 ms              10.57 ms                2.35 ms
// (the last three columns include the renames and the single directory fsync). syncfs() is fastest from a
// few files on and, on Linux >= 5.8, reports write-back errors of the file system, so durability per message
// is kept; its cost grows with other dirty data on the same file system, hence fdatasync for one or two files,
// and for more while syncfs has lately cost more than they would (SpoolDir::SyncMethod::automatic, sync_chooser.h). Each waiting coroutine is resumed on its own executor.
// End to end (queue/bench/commit_throughput.cpp, 4 KiB messages, one io thread): 1 session 1,680 commits/s;
// 10 sessions 5,180/s (4.8 commits per sync group); 50 sessions 14,700/s (16 per group).
//
// Commit delay: a group waits up to `gather` for the messages still being received when it forms (started and not
// yet ended), and under a steady load for as many commits as the last group had, so that they share its flush
// (PostgreSQL's commit_delay with commit_siblings). A lone session never waits. Measured through the relay (20
// sessions, 4 KiB, one per connection, three alternating runs): 3,346 -> 3,600 msg/s, accept latency p50 +0.25 ms;
// one session: 913 -> 922 msg/s, p50 unchanged (0.62 ms). The thread is woken only when what it waits for has
// come (the first change, or the group it gathers), not once per submission.
//
// Two stages: the commit thread syncs a group's data and renames its files, then hands the group to the folder
// thread, which fsyncs the folders and completes the commits, while the commit thread already syncs the next
// group's data. New messages synced by syncfs() are renamed before it instead, and need no folder fsync
// (SpoolDir::apply_files, spool_dir.h): the commit thread completes such a group itself when no earlier one is
// still with the folder thread.
// Every rename is durable before its commit completes.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <string>
#include <thread>
#include <vector>

#include "queue/spool_dir.h"

namespace smarthost::queue {

class GroupCommit {
 public:
  using Completion = boost::asio::any_completion_handler<void(std::error_code)>;

  // `name` names its threads (`name` and `name`/folders, at most 15 characters together) for top -H and perf.
  GroupCommit(const SpoolDir& dir, SpoolDir::SyncMethod method,
              std::chrono::microseconds gather = std::chrono::microseconds(0), std::string name = "commit");
  ~GroupCommit();  // finishes every submitted change, then stops the thread
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `change`; `done` runs on `executor` (kept busy until then) with the change's result.
  void submit(SpoolChange change, boost::asio::any_io_executor executor, Completion done);

  // A message is being received and will probably be committed (a writer opened) / it was handed over or dropped.
  void message_started();
  void message_ended();

  // Groups processed and changes applied so far (for tests and metrics).
  uint64_t groups() const;
  uint64_t changes() const;

 private:
  struct Job;
  struct Group;
  void run();
  void sync_folders();
  // Counts the group and posts each job's completion with its result.
  void complete(Group& group, const std::vector<std::error_code>& errors);

  const SpoolDir& dir_;
  SpoolDir::SyncMethod method_;
  std::chrono::microseconds gather_;
  std::string name_;
  size_t receiving_ = 0;   // messages started and not yet ended (guarded by mutex_)
  size_t last_group_ = 0;  // changes in the last group
  size_t waiting_for_ = 0;  // pending changes that end the thread's wait; 0 while it works (guarded by mutex_)
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> pending_;
  bool stopping_ = false;
  uint64_t groups_ = 0;
  uint64_t changes_ = 0;
  // Groups whose folders are not synced yet, oldest first (guarded by mutex_), and the folder thread's state.
  std::deque<std::unique_ptr<Group>> syncing_;
  std::condition_variable folder_wake_;
  std::condition_variable folder_done_;
  bool folders_stopping_ = false;
  std::thread folder_thread_;
  std::thread thread_;
};

}  // namespace smarthost::queue
