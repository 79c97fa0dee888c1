// The spool's directory layout and its synchronous, durable file operations: loading and scanning messages,
// state rewrites, moves between folders, removal and crash recovery. Used directly by offline queue
// administration; the running server routes the same changes through the group commit (group_commit.h).
//
// Layout under the root: tmp/ (messages being written, state files being replaced, delivered messages' files kept
// for reuse), active/, hold/, failed/, corrupt/ (made when needed: files recovery set aside), a lock file, and a
// marker of a clean stop (fs_spool.h). A message is <folder>/<id> (record + content, see spool_record.h), plus
// <folder>/<id>.state once it has been retried. Files reach a folder only by rename after fsync, and the folder
// is fsynced after; except that a new message, whose record holds its content's length and CRC, may be renamed
// into active/ just before one syncfs() makes its data and the rename durable together (apply_files()): a crash
// in between can leave a torn file there, never acknowledged, which check_contents() sets aside.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "queue/stored_message.h"
#include "queue/sync_chooser.h"

namespace smarthost::queue {

// The file-system steps a spool takes, for fault injection.
enum class SpoolStep { create, write, sync, rename, sync_directory, remove };
// The syncs that reached the disk, for counting.
enum class SyncKind { file, filesystem, directory };

// The syncs that reached the disk so far (for metrics).
struct SyncCounts {
  uint64_t filesystem = 0;  // syncfs() calls, one per group of files
  uint64_t file = 0;        // fdatasync() calls, one per file
  uint64_t directory = 0;   // fsyncs of folders
};

// What the running spool's group commit has made durable so far (FsSpool::sync_stats(), for metrics).
struct SpoolSyncStats {
  uint64_t groups = 0;   // groups of changes synced together
  uint64_t changes = 0;  // changes in them: new messages, state updates, moves, removals
  SyncCounts syncs;
};

struct SpoolHooks {
  // Called before each step; a non-zero result makes the step fail with that error (e.g. ENOSPC on write).
  std::function<std::error_code(SpoolStep)> fault;
  // Called after each successful sync. May run on the commit thread.
  std::function<void(SyncKind)> on_sync;
};

// One durable change: make `fd` (a written temporary file, owned and closed by the change) durable, then do the
// renames and removals, then fsync every folder they touched. Either it all succeeds or it reports an error.
struct SpoolChange {
  int fd = -1;
  // When set, `fd` is this open file's (mail/content_file.h), kept for the delivery: the change syncs it and lets
  // go of it, but does not close it.
  std::shared_ptr<const mail::ContentFile> fd_owner;
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> renames;
  std::vector<std::filesystem::path> removals;
  // On failure, also remove the rename targets already in place (a failed commit must not be delivered later).
  bool undo_renames_on_failure = false;
  // Removals alone do not fsync their folder when false: a crash may bring the files back (a delivered message
  // is then delivered again, as with Postfix), and the group commit skips a directory sync per delivery.
  bool sync_removals = true;
  // When set, the first removal is renamed to this path in tmp/ instead of unlinked, for reuse (file_pool.h).
  std::filesystem::path recycle_into;
  // The file's record holds the content's length and checksum, so recovery can tell a torn copy (whose data never
  // reached the disk whole) from a whole one: its renames may then come before the data sync (apply_files()).
  bool checked = false;
  // The size of the first removal (a message's file: its record and content) when known.
  std::optional<uint64_t> first_removal_size;
  // The first removal's file, still open (the message's StoredMessage::file): recycled with it.
  std::shared_ptr<const mail::ContentFile> first_removal_file;

  SpoolChange() = default;
  SpoolChange(SpoolChange&& other) noexcept;
  SpoolChange& operator=(SpoolChange&& other) noexcept;
  SpoolChange(const SpoolChange&) = delete;
  SpoolChange& operator=(const SpoolChange&) = delete;
  ~SpoolChange();  // closes fd if still open (and not fd_owner's)
  // Lets go of fd: closes it unless fd_owner holds it.
  void release_fd();
};

struct RecoveryReport {
  size_t removed_temporary = 0;   // half-written files found in tmp/
  size_t removed_recycled = 0;    // delivered messages' files the last run kept for reuse (file_pool.h)
  size_t reattached_states = 0;   // state files moved back beside their message after an interrupted move
  size_t removed_orphans = 0;     // state files whose message is gone
  QueueId newest_id;              // the greatest id of a message in any folder (empty when there is none)
  bool unclean = false;           // the last stop left no clean-stop mark: a crash or a kill (fs_spool.h)
  bool checked_contents = false;  // no clean-stop mark (a new spool has none either): every message was checked
  size_t checked = 0;             // messages whose content was read and compared with their record's check
  size_t set_aside = 0;           // files moved to corrupt/: torn or unreadable
};

class SpoolDir {
 public:
  SpoolDir(std::filesystem::path root, SpoolHooks hooks = {});

  const std::filesystem::path& root() const { return root_; }
  const SpoolHooks& hooks() const { return hooks_; }
  std::filesystem::path folder_path(Folder folder) const;
  std::filesystem::path message_path(Folder folder, const QueueId& id) const;
  std::filesystem::path state_path(Folder folder, const QueueId& id) const;
  std::filesystem::path temporary_path(std::string_view name) const;

  // Creates the folders when missing.
  std::error_code create_layout() const;
  // Removes everything in tmp/ and puts state files left behind by an interrupted move back beside their
  // message (or removes them when the message is gone). Run before anything else uses the spool.
  std::error_code recover(RecoveryReport& report) const;

  // After a stop that was not clean: reads every message whose record carries a check (length and CRC-32C) and
  // moves to corrupt/ each file whose record is unreadable or whose content does not match it (a commit cut short
  // by the crash, never acknowledged; or damage). Nothing is deleted. Run after recover().
  std::error_code check_contents(RecoveryReport& report) const;

  // Reads one message's record and state. nullopt with `error` set when missing or malformed.
  std::optional<StoredMessage> load(Folder folder, const QueueId& id, std::error_code& error) const;
  // Looks in every folder (active, hold, failed).
  std::optional<StoredMessage> find(const QueueId& id, std::error_code& error) const;
  // Every readable message of a folder, oldest id first; unreadable ones are logged and skipped.
  std::vector<StoredMessage> scan(Folder folder, std::error_code& error) const;
  // The same, one message at a time, none kept: for counting a queue of any depth in constant memory.
  void visit(Folder folder, const std::function<void(StoredMessage&&)>& each, std::error_code& error) const;
  // The ids of a folder's messages, oldest first, from its entries alone (no file is read).
  std::vector<QueueId> ids(Folder folder, std::error_code& error) const;
  // The message's header block (up to the first empty line, at most `cap` bytes), for bounces and `show`.
  std::string read_headers(const StoredMessage& message, size_t cap, std::error_code& error) const;

  // Changes for the group commit or for apply(). Each leaves `message` describing the new situation.
  // Rewrites the state sidecar (with message.folder as it is).
  SpoolChange state_change(const StoredMessage& message, std::error_code& error) const;
  // Moves message and state to `to`, writing the current state there.
  SpoolChange move_change(StoredMessage& message, Folder to, std::error_code& error) const;
  // Removes the message and its state; `durable = false` for a delivered message (see sync_removals).
  SpoolChange removal_change(const StoredMessage& message, bool durable = true) const;

  // Applies one change now, on this thread, with its own syncs.
  std::error_code apply(SpoolChange& change) const;

  // Applies changes together: one data sync for all files (syncfs or fdatasync each: `automatic` asks the
  // SyncChooser, which weighs what each has cost lately), then renames and removals, then one fsync per folder.
  // Returns one error code per change.
  enum class SyncMethod { automatic, fdatasync, syncfs };
  std::vector<std::error_code> apply_all(std::vector<SpoolChange*> changes, SyncMethod method) const;

  // apply_all() in its two halves, so that the group commit can sync one group's folders while the next group's
  // data syncs. The changes must stay alive (and unchanged) from the first half to the second.
  struct PartlyApplied {
    std::vector<SpoolChange*> changes;
    std::vector<std::error_code> errors;
    std::vector<std::vector<std::filesystem::path>> touched;  // folders each change must fsync
    std::vector<size_t> renamed;                               // renames done per change
  };
  // The data sync, then the renames and removals.
  PartlyApplied apply_files(std::vector<SpoolChange*> changes, SyncMethod method) const;
  // One fsync per folder touched, then the undo of failed changes. Returns one error code per change.
  std::vector<std::error_code> sync_folders(PartlyApplied& applied) const;

  // The fault hook's verdict for a step (no error when no hook is set).
  std::error_code fault(SpoolStep step) const;
  void synced(SyncKind kind) const;
  // fsyncs a directory, counting it.
  std::error_code sync_directory(const std::filesystem::path& dir) const;

  // The fsyncs of active/ begun so far, and the last of them (by order of starting) that finished without error:
  // once done >= started + 1 as read after a file left active/, that departure is durable (file_pool.h).
  uint64_t active_syncs_started() const { return active_syncs_->started.load(std::memory_order_acquire); }
  uint64_t active_syncs_done() const { return active_syncs_->done.load(std::memory_order_acquire); }
  SyncCounts sync_counts() const;

 private:
  void active_sync_done(uint64_t ticket) const;
  struct SyncCount {
    std::atomic<uint64_t> started{0};
    std::atomic<uint64_t> done{0};
    std::atomic<uint64_t> by_kind[3]{};  // indexed by SyncKind
  };
  std::filesystem::path root_;
  SpoolHooks hooks_;
  std::shared_ptr<SyncCount> active_syncs_ = std::make_shared<SyncCount>();  // shared by copies of this SpoolDir
  std::shared_ptr<SyncChooser> sync_chooser_ = std::make_shared<SyncChooser>();  // likewise
};

// An exclusive lock (flock) on a spool directory, held by the one process using it: the server, or an offline
// queue command. A second holder is refused with std::errc::resource_unavailable_try_again.
class SpoolLock {
 public:
  static std::optional<SpoolLock> acquire(const std::filesystem::path& root, std::error_code& error);
  SpoolLock(SpoolLock&& other) noexcept;
  SpoolLock& operator=(SpoolLock&& other) noexcept;
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;
  ~SpoolLock();

 private:
  explicit SpoolLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Writes `bytes` at `offset` of fd completely, retrying on EINTR and short writes; consults the write fault hook.
std::error_code write_at(const SpoolDir& dir, int fd, std::string_view bytes, uint64_t offset);
// The same for `first` followed by `second`, in one pwritev() when the kernel takes them whole.
std::error_code write_at(const SpoolDir& dir, int fd, std::string_view first, std::string_view second, uint64_t offset);

}  // namespace smarthost::queue
