// Recycled spool files. Every accepted message creates a file and every delivery deletes one; on ext4 without
// a journal (this project's benchmark machine, and many VM images) the inode allocator then skips every inode
// freed in the last minute, reading its inode block for each: 13% of the relay's CPU at 3,600 msg/s, with the
// unlink's truncate and discard another 6% (bench/README.md). So a delivered message's file is renamed into tmp/
// instead of unlinked, and a new message overwrites it and is cut to its own length before its sync.
//
// Safety: a file is handed out only after an fsync of active/ that began after it left active/ has succeeded
// (the group commit makes one for every group of new messages; SpoolDir counts them), so a crash can never show
// a new message's bytes under the delivered message's old name. Files in tmp/ are removed at start like any
// other, and the pool keeps at most `capacity` files of at most `max_size` bytes each.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "mail/content_file.h"

namespace smarthost::queue {

// Pool files are tmp/recycled.<n>: never a queue id (13 characters without a dot), so never taken for a message.
inline constexpr std::string_view kRecycledPrefix = "recycled.";
inline bool is_recycled_file(std::string_view filename) { return filename.starts_with(kRecycledPrefix); }

class FilePool {
 public:
  FilePool(std::filesystem::path tmp, size_t capacity, uint64_t max_size);

  // A file held by the pool, its size in bytes, and its descriptor when it is still open (mail/content_file.h).
  struct File {
    std::filesystem::path path;
    uint64_t size = 0;
    std::shared_ptr<const mail::ContentFile> file;
  };

  // A fresh name in tmp/ for `file` (a delivered message's, of `size` bytes: its record and content; looked up
  // when not given) to be renamed to, or nullopt when the pool is full or the file too big (it is then simply
  // unlinked).
  std::optional<std::filesystem::path> name_for(const std::filesystem::path& file, std::optional<uint64_t> size);
  // The file, renamed to a name_for() name, may be handed out once an fsync of active/ numbered `ready_after` or
  // later has succeeded (SpoolDir::active_syncs_*). False when the pool filled up meanwhile: the caller unlinks it.
  bool put(File file, uint64_t ready_after);
  // The oldest file whose departure from active/ is durable, given the last successful fsync of active/; taken
  // out of the pool. nullopt when there is none yet.
  std::optional<File> take(uint64_t active_syncs_done);

  size_t size() const;  // files held, ready or not

 private:
  const std::filesystem::path tmp_;
  const size_t capacity_;
  const uint64_t max_size_;
  std::atomic<uint64_t> names_{0};
  mutable std::mutex mutex_;
  std::deque<std::pair<File, uint64_t>> files_;  // oldest first, with their ready_after
};

}  // namespace smarthost::queue
