// Queue administration on the spool directory: summaries, the shared disk operations, and offline commands.
#include "queue/queue_admin.h"

#include <spdlog/spdlog.h>

#include "queue/queue_id.h"

namespace smarthost::queue {
namespace fs = std::filesystem;
using std::chrono::system_clock;

namespace {

constexpr size_t kShowHeaderCap = 64 * 1024;

// Opens the spool for one offline command: takes the lock so no server delivers underneath.
struct OfflineSpool {
  std::optional<SpoolLock> lock;
  SpoolDir dir;

  explicit OfflineSpool(const fs::path& root, std::error_code& error) : dir(root) {
    if (!fs::is_directory(root / "active", error)) {
      if (!error) error = std::make_error_code(std::errc::no_such_file_or_directory);
      return;
    }
    lock = SpoolLock::acquire(root, error);
  }
};

std::optional<StoredMessage> find_checked(const SpoolDir& dir, const QueueId& id, std::error_code& error) {
  if (!is_queue_id(id)) {
    error = std::make_error_code(std::errc::invalid_argument);
    return std::nullopt;
  }
  return dir.find(id, error);
}

template <typename Operation>
std::error_code on_one(const fs::path& spool_dir, const QueueId& id, Operation operation) {
  std::error_code error;
  OfflineSpool spool(spool_dir, error);
  if (error) return error;
  auto message = find_checked(spool.dir, id, error);
  if (!message) return error;
  return operation(spool.dir, *message);
}

std::error_code apply_together(const SpoolDir& dir, std::vector<SpoolChange>& changes) {
  std::vector<SpoolChange*> pointers;
  for (auto& change : changes) pointers.push_back(&change);
  for (const auto& error : dir.apply_all(std::move(pointers), SpoolDir::SyncMethod::automatic))
    if (error) return error;
  return {};
}

}  // namespace

QueueEntry summarize(const StoredMessage& message, system_clock::time_point now) {
  QueueEntry entry;
  entry.id = message.id;
  entry.folder = message.folder;
  entry.age = std::chrono::duration_cast<std::chrono::seconds>(now - message.envelope.received_at);
  if (entry.age.count() < 0) entry.age = std::chrono::seconds(0);
  entry.sender = message.envelope.mail_from;
  entry.recipients = message.envelope.recipients;
  entry.attempts = message.attempts;
  entry.next_attempt = message.next_attempt;
  entry.last_error = message.last_error;
  entry.size = message.size;
  return entry;
}

bool EntryCursor::next(std::vector<QueueEntry>& out, size_t max, std::error_code& error) {
  static constexpr Folder kFolders[] = {Folder::active, Folder::hold, Folder::failed};
  error.clear();
  for (size_t added = 0; folder_ < std::size(kFolders);) {
    Folder folder = kFolders[folder_];
    if (!have_ids_) {
      ids_ = dir_->ids(folder, error);
      if (error) return false;
      have_ids_ = true;
      position_ = 0;
    }
    while (position_ < ids_.size() && added < max) {
      const QueueId& id = ids_[position_++];
      std::error_code load_error;
      if (auto message = dir_->load(folder, id, load_error)) {
        out.push_back(summarize(*message, now_));
        ++added;
      } else if (load_error != std::errc::no_such_file_or_directory) {
        spdlog::warn("spool: skipping {}/{} in the list: {}", to_string(folder), id, load_error.message());
      }
    }
    if (position_ < ids_.size()) return true;  // the batch is full
    ++folder_;
    have_ids_ = false;
    ids_ = {};
    if (added == max) return folder_ < std::size(kFolders);
  }
  return false;
}

std::vector<QueueEntry> EntryCursor::rest(std::error_code& error) {
  std::vector<QueueEntry> entries;
  while (next(entries, 1024, error)) {
  }
  if (error) return {};
  return entries;
}

QueueTally tally_messages(const SpoolDir& dir, system_clock::time_point now, std::error_code& error) {
  QueueTally tally;
  for (Folder folder : {Folder::active, Folder::hold, Folder::failed}) {
    dir.visit(
        folder,
        [&](StoredMessage&& message) {
          tally.bytes += message.size;
          if (folder == Folder::active) ++tally.active;
          if (folder == Folder::hold) ++tally.held;
          if (folder == Folder::failed) {
            ++tally.failed;
            return;  // failed messages wait for nobody
          }
          auto age = std::chrono::duration_cast<std::chrono::seconds>(now - message.envelope.received_at);
          tally.oldest_age = std::max(tally.oldest_age, age);
        },
        error);
    if (error) return {};
  }
  return tally;
}

std::optional<MessageDetails> show_message(const SpoolDir& dir, const QueueId& id, system_clock::time_point now,
                                           std::error_code& error) {
  auto message = find_checked(dir, id, error);
  if (!message) return std::nullopt;
  MessageDetails details;
  details.entry = summarize(*message, now);
  details.envelope = message->envelope;
  details.content_path = message->content_path;
  details.headers = dir.read_headers(*message, kShowHeaderCap, error);
  if (error) return std::nullopt;
  return details;
}

std::error_code retry_on_disk(const SpoolDir& dir, StoredMessage& message, system_clock::time_point now) {
  StoredMessage updated = message;
  for (auto& recipient : updated.envelope.recipients)
    if (recipient.state == mail::RecipientState::failed) recipient.state = mail::RecipientState::pending;
  updated.next_attempt = now;
  std::error_code error;
  SpoolChange change = updated.folder == Folder::active ? dir.state_change(updated, error)
                                                         : dir.move_change(updated, Folder::active, error);
  if (error || (error = dir.apply(change))) return error;
  updated.state_file = true;  // state_change wrote one (move_change says so itself)
  message = std::move(updated);
  return {};
}

std::error_code hold_on_disk(const SpoolDir& dir, StoredMessage& message) {
  if (message.folder == Folder::hold) return {};
  StoredMessage updated = message;
  std::error_code error;
  SpoolChange change = dir.move_change(updated, Folder::hold, error);
  if (error || (error = dir.apply(change))) return error;
  message = std::move(updated);
  return {};
}

std::error_code release_on_disk(const SpoolDir& dir, StoredMessage& message, system_clock::time_point now) {
  if (message.folder != Folder::hold) return std::make_error_code(std::errc::invalid_argument);
  StoredMessage updated = message;
  updated.next_attempt = now;
  std::error_code error;
  SpoolChange change = dir.move_change(updated, Folder::active, error);
  if (error || (error = dir.apply(change))) return error;
  message = std::move(updated);
  return {};
}

std::error_code remove_on_disk(const SpoolDir& dir, const StoredMessage& message) {
  SpoolChange change = dir.removal_change(message);
  return dir.apply(change);
}

namespace offline {

void list(const fs::path& spool_dir, const std::function<void(QueueEntry&&)>& each, std::error_code& error) {
  OfflineSpool spool(spool_dir, error);
  if (error) return;
  EntryCursor cursor(spool.dir, system_clock::now());
  std::vector<QueueEntry> batch;
  for (bool more = true; more;) {
    batch.clear();
    more = cursor.next(batch, 256, error);
    for (auto& entry : batch) each(std::move(entry));
  }
}

std::optional<MessageDetails> show(const fs::path& spool_dir, const QueueId& id, std::error_code& error) {
  OfflineSpool spool(spool_dir, error);
  if (error) return std::nullopt;
  return show_message(spool.dir, id, system_clock::now(), error);
}

std::error_code retry(const fs::path& spool_dir, const QueueId& id) {
  return on_one(spool_dir, id, [](const SpoolDir& dir, StoredMessage& message) {
    return retry_on_disk(dir, message, system_clock::now());
  });
}

std::error_code retry_all(const fs::path& spool_dir) {
  std::error_code error;
  OfflineSpool spool(spool_dir, error);
  if (error) return error;
  auto now = system_clock::now();
  for (auto& message : spool.dir.scan(Folder::failed, error)) {
    if (auto retry_error = retry_on_disk(spool.dir, message, now)) return retry_error;
  }
  if (error) return error;
  std::vector<SpoolChange> changes;
  for (auto& message : spool.dir.scan(Folder::active, error)) {
    message.next_attempt = now;
    changes.push_back(spool.dir.state_change(message, error));
    if (error) return error;
  }
  if (error) return error;
  return apply_together(spool.dir, changes);
}

std::error_code remove(const fs::path& spool_dir, const QueueId& id) {
  return on_one(spool_dir, id,
                [](const SpoolDir& dir, StoredMessage& message) { return remove_on_disk(dir, message); });
}

std::error_code remove_failed(const fs::path& spool_dir) {
  std::error_code error;
  OfflineSpool spool(spool_dir, error);
  if (error) return error;
  std::vector<SpoolChange> changes;
  for (const auto& message : spool.dir.scan(Folder::failed, error)) changes.push_back(spool.dir.removal_change(message));
  if (error) return error;
  return apply_together(spool.dir, changes);
}

std::error_code flush(const fs::path& spool_dir) {
  std::error_code error;
  OfflineSpool spool(spool_dir, error);
  if (error) return error;
  auto now = system_clock::now();
  std::vector<SpoolChange> changes;
  for (auto& message : spool.dir.scan(Folder::active, error)) {
    message.next_attempt = now;
    changes.push_back(spool.dir.state_change(message, error));
    if (error) return error;
  }
  if (error) return error;
  return apply_together(spool.dir, changes);
}

std::error_code hold(const fs::path& spool_dir, const QueueId& id) {
  return on_one(spool_dir, id, [](const SpoolDir& dir, StoredMessage& message) { return hold_on_disk(dir, message); });
}

std::error_code release(const fs::path& spool_dir, const QueueId& id) {
  return on_one(spool_dir, id, [](const SpoolDir& dir, StoredMessage& message) {
    return release_on_disk(dir, message, system_clock::now());
  });
}

}  // namespace offline
}  // namespace smarthost::queue
