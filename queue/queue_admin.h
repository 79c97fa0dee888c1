// Queue administration: list, show, retry, delete, flush, hold and release. The disk operations here are
// shared by the running scheduler (for messages it is not delivering) and by the offline functions, which the
// CLI runs against queue.dir when no server holds the spool. Nothing here delivers mail.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "queue/spool_dir.h"
#include "queue/stored_message.h"

namespace smarthost::queue {

// One line of `queue list`.
struct QueueEntry {
  QueueId id;
  Folder folder = Folder::active;
  std::chrono::seconds age{0};  // since the message was received
  std::string sender;           // "" for the null sender
  std::vector<mail::Recipient> recipients;  // with state and last reply each
  uint32_t attempts = 0;
  std::chrono::system_clock::time_point next_attempt{};
  std::string last_error;
  uint64_t size = 0;
};

// `queue show`: the entry, the whole envelope and the message's header block.
struct MessageDetails {
  QueueEntry entry;
  mail::Envelope envelope;
  std::string headers;
  std::string content_path;
};

QueueEntry summarize(const StoredMessage& message, std::chrono::system_clock::time_point now);

// `queue list` a batch at a time: active/, then hold/, then failed/, oldest first within each folder. Only the
// ids of the folder being walked are held, never the entries, so a queue of any depth is listed in bounded memory
// (the admin socket streams it; Postfix's showq does the same). A message that moves to another folder while the
// walk goes on may be missed or listed twice; one that leaves the queue is skipped. The dir must outlive it.
class EntryCursor {
 public:
  EntryCursor(const SpoolDir& dir, std::chrono::system_clock::time_point now) : dir_(&dir), now_(now) {}
  // Appends up to `max` entries to `out`. False once every folder has been walked, or with `error` set.
  bool next(std::vector<QueueEntry>& out, size_t max, std::error_code& error);
  // Every entry not read yet, at once (a short queue; the admin socket streams instead). Empty on error.
  std::vector<QueueEntry> rest(std::error_code& error);

 private:
  const SpoolDir* dir_;
  std::chrono::system_clock::time_point now_;
  size_t folder_ = 0;  // index into the folders walked
  bool have_ids_ = false;
  std::vector<QueueId> ids_;
  size_t position_ = 0;
};


// What the spool holds, for metrics and status: counted one message at a time, in constant memory.
struct QueueTally {
  size_t active = 0;
  size_t held = 0;
  size_t failed = 0;
  uint64_t bytes = 0;                  // message octets in every folder
  std::chrono::seconds oldest_age{0};  // since the oldest active or held message was received
};
QueueTally tally_messages(const SpoolDir& dir, std::chrono::system_clock::time_point now, std::error_code& error);

std::optional<MessageDetails> show_message(const SpoolDir& dir, const QueueId& id,
                                           std::chrono::system_clock::time_point now, std::error_code& error);

// Durable disk operations on one message that nobody is delivering. Each updates `message` on success.
// Retry: failed recipients become pending again, the message moves to active/ (from any folder) and is due now.
std::error_code retry_on_disk(const SpoolDir& dir, StoredMessage& message, std::chrono::system_clock::time_point now);
std::error_code hold_on_disk(const SpoolDir& dir, StoredMessage& message);
// Release: back from hold/ to active/, due now. Refuses (invalid_argument) a message that is not held.
std::error_code release_on_disk(const SpoolDir& dir, StoredMessage& message,
                                std::chrono::system_clock::time_point now);
std::error_code remove_on_disk(const SpoolDir& dir, const StoredMessage& message);

// Offline administration of the spool at `spool_dir`. Each call takes the spool's lock for its duration and
// fails with std::errc::resource_unavailable_try_again while a server holds it (use the admin API then).
// An unknown id gives std::errc::no_such_file_or_directory, a malformed one std::errc::invalid_argument.
namespace offline {
// Each entry as it is read (EntryCursor), so the CLI prints a deep queue without holding it.
void list(const std::filesystem::path& spool_dir, const std::function<void(QueueEntry&&)>& each,
          std::error_code& error);
std::optional<MessageDetails> show(const std::filesystem::path& spool_dir, const QueueId& id, std::error_code& error);
std::error_code retry(const std::filesystem::path& spool_dir, const QueueId& id);
// Every failed message back to active/, and every active message due now.
std::error_code retry_all(const std::filesystem::path& spool_dir);
std::error_code remove(const std::filesystem::path& spool_dir, const QueueId& id);
std::error_code remove_failed(const std::filesystem::path& spool_dir);
// Every active message due now (the next server start delivers them first thing).
std::error_code flush(const std::filesystem::path& spool_dir);
std::error_code hold(const std::filesystem::path& spool_dir, const QueueId& id);
std::error_code release(const std::filesystem::path& spool_dir, const QueueId& id);
}  // namespace offline

}  // namespace smarthost::queue
