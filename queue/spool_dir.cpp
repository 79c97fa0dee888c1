// Synchronous spool file operations: layout, load and scan, durable changes, recovery (see spool_dir.h).
#include "queue/spool_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <set>

#include "queue/crc32c.h"
#include "queue/file_pool.h"
#include "queue/queue_id.h"
#include "queue/spool_record.h"

namespace smarthost::queue {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kStateSuffix = ".state";

std::error_code last_error() { return {errno, std::system_category()}; }

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::error_code read_at(int fd, std::string& out, size_t count, uint64_t offset) {
  out.resize(count);
  size_t done = 0;
  while (done < count) {
    ssize_t got = ::pread(fd, out.data() + done, count - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  out.resize(done);
  return {};
}

std::error_code read_small_file(const fs::path& path, std::string& out, bool& missing) {
  missing = false;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    missing = errno == ENOENT;
    return last_error();
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return last_error();
  if (static_cast<uint64_t>(st.st_size) > kMaxRecordSize) return std::make_error_code(std::errc::file_too_large);
  return read_at(fd.get(), out, static_cast<size_t>(st.st_size), 0);
}

bool is_in(const fs::path& path, const fs::path& dir) { return path.parent_path() == dir; }

}  // namespace

SpoolChange::SpoolChange(SpoolChange&& other) noexcept
    : fd(std::exchange(other.fd, -1)),
      fd_owner(std::move(other.fd_owner)),
      renames(std::move(other.renames)),
      removals(std::move(other.removals)),
      undo_renames_on_failure(other.undo_renames_on_failure),
      sync_removals(other.sync_removals),
      recycle_into(std::move(other.recycle_into)),
      checked(other.checked),
      first_removal_size(other.first_removal_size),
      first_removal_file(std::move(other.first_removal_file)) {}

SpoolChange& SpoolChange::operator=(SpoolChange&& other) noexcept {
  if (this != &other) {
    release_fd();
    fd = std::exchange(other.fd, -1);
    fd_owner = std::move(other.fd_owner);
    renames = std::move(other.renames);
    removals = std::move(other.removals);
    undo_renames_on_failure = other.undo_renames_on_failure;
    sync_removals = other.sync_removals;
    checked = other.checked;
    recycle_into = std::move(other.recycle_into);
    first_removal_size = other.first_removal_size;
    first_removal_file = std::move(other.first_removal_file);
  }
  return *this;
}

SpoolChange::~SpoolChange() { release_fd(); }

void SpoolChange::release_fd() {
  if (fd >= 0 && !fd_owner) ::close(fd);
  fd = -1;
  fd_owner.reset();
}

SpoolDir::SpoolDir(fs::path root, SpoolHooks hooks) : root_(std::move(root)), hooks_(std::move(hooks)) {}

fs::path SpoolDir::folder_path(Folder folder) const { return root_ / std::string(to_string(folder)); }

fs::path SpoolDir::message_path(Folder folder, const QueueId& id) const { return folder_path(folder) / id; }

fs::path SpoolDir::state_path(Folder folder, const QueueId& id) const {
  return folder_path(folder) / (id + std::string(kStateSuffix));
}

fs::path SpoolDir::temporary_path(std::string_view name) const { return root_ / "tmp" / std::string(name); }

std::error_code SpoolDir::fault(SpoolStep step) const { return hooks_.fault ? hooks_.fault(step) : std::error_code{}; }

void SpoolDir::synced(SyncKind kind) const {
  active_syncs_->by_kind[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  if (hooks_.on_sync) hooks_.on_sync(kind);
}

SyncCounts SpoolDir::sync_counts() const {
  auto count = [this](SyncKind kind) {
    return active_syncs_->by_kind[static_cast<size_t>(kind)].load(std::memory_order_relaxed);
  };
  return {count(SyncKind::filesystem), count(SyncKind::file), count(SyncKind::directory)};
}

void SpoolDir::active_sync_done(uint64_t ticket) const {
  uint64_t done = active_syncs_->done.load(std::memory_order_acquire);
  while (done < ticket && !active_syncs_->done.compare_exchange_weak(done, ticket, std::memory_order_acq_rel)) {
  }
}

std::error_code SpoolDir::sync_directory(const fs::path& dir) const {
  if (auto ec = fault(SpoolStep::sync_directory)) return ec;
  const bool active = dir == folder_path(Folder::active);
  const uint64_t ticket = active ? active_syncs_->started.fetch_add(1, std::memory_order_acq_rel) + 1 : 0;
  const auto started = std::chrono::steady_clock::now();
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) return last_error();
  sync_chooser_->folder_sync_took(std::chrono::steady_clock::now() - started);
  if (active) active_sync_done(ticket);
  synced(SyncKind::directory);
  return {};
}

std::error_code SpoolDir::create_layout() const {
  std::error_code ec;
  bool created = false;
  for (const char* name : {"tmp", "active", "hold", "failed"}) {
    created |= fs::create_directories(root_ / name, ec);
    if (ec) return ec;
  }
  if (created) return sync_directory(root_);
  return {};
}

std::error_code SpoolDir::recover(RecoveryReport& report) const {
  std::error_code ec;
  const fs::path tmp = root_ / "tmp";
  for (const auto& entry : fs::directory_iterator(tmp, ec)) {
    // Delivered messages' files kept for reuse (file_pool.h) are there after any stop; the rest was being written.
    const bool recycled = is_recycled_file(entry.path().filename().string());
    if (fs::remove(entry.path(), ec)) ++(recycled ? report.removed_recycled : report.removed_temporary);
    if (ec) return ec;
  }
  if (ec) return ec;
  if (report.removed_temporary > 0)
    spdlog::info("spool: removed {} half-written file(s) from {}", report.removed_temporary, tmp.string());
  if (report.removed_temporary + report.removed_recycled > 0) {
    if (auto sync_error = sync_directory(tmp)) return sync_error;
  }

  std::set<fs::path> touched;
  for (Folder folder : {Folder::active, Folder::hold, Folder::failed}) {
    std::vector<fs::path> states;
    for (const auto& entry : fs::directory_iterator(folder_path(folder), ec)) {
      std::string name = entry.path().filename().string();
      if (name.ends_with(kStateSuffix)) {
        states.push_back(entry.path());
      } else if (is_queue_id(name) && name > report.newest_id) {
        report.newest_id = std::move(name);
      }
    }
    if (ec) return ec;
    for (const auto& state : states) {
      std::string name = state.filename().string();
      QueueId id = name.substr(0, name.size() - kStateSuffix.size());
      if (!is_queue_id(id) || fs::exists(message_path(folder, id))) continue;
      std::optional<Folder> home;
      for (Folder other : {Folder::active, Folder::hold, Folder::failed}) {
        if (other != folder && fs::exists(message_path(other, id))) home = other;
      }
      // An interrupted move left the state behind: it is the newest state unless the move already wrote one.
      if (home && !fs::exists(state_path(*home, id))) {
        fs::rename(state, state_path(*home, id), ec);
        if (ec) return ec;
        ++report.reattached_states;
        touched.insert(folder_path(*home));
      } else {
        fs::remove(state, ec);
        if (ec) return ec;
        ++report.removed_orphans;
      }
      touched.insert(folder_path(folder));
    }
  }
  for (const auto& dir : touched) {
    if (auto sync_error = sync_directory(dir)) return sync_error;
  }
  return {};
}

namespace {

// Whether the content of `message` (loaded from its file) is what its record's check says.
bool content_matches(const StoredMessage& message, std::string& why) {
  const ContentCheck& check = *message.check;
  if (message.size != check.octets) {
    why = "content is " + std::to_string(message.size) + " octets, the record says " + std::to_string(check.octets);
    return false;
  }
  Fd fd(::open(message.content_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return why = "cannot open: " + last_error().message(), false;
  std::string chunk;
  uint32_t crc = 0;
  for (uint64_t done = 0; done < message.size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(256 * 1024, message.size - done));
    if (auto ec = read_at(fd.get(), chunk, want, message.content_offset + done)) return why = ec.message(), false;
    if (chunk.size() != want) return why = "content ends early", false;
    crc = crc32c(crc, chunk);
    done += want;
  }
  if (crc != check.crc) return why = "content does not match its checksum", false;
  return true;
}

}  // namespace

std::error_code SpoolDir::check_contents(RecoveryReport& report) const {
  report.checked_contents = true;
  const fs::path corrupt = root_ / "corrupt";
  std::set<fs::path> touched;
  std::error_code ec;
  for (Folder folder : {Folder::active, Folder::hold, Folder::failed}) {
    std::vector<QueueId> ids;
    for (const auto& entry : fs::directory_iterator(folder_path(folder), ec)) {
      std::string name = entry.path().filename().string();
      if (is_queue_id(name)) ids.push_back(std::move(name));
    }
    if (ec) return ec;
    for (const auto& id : ids) {
      std::error_code load_error;
      std::string why;
      auto message = load(folder, id, load_error);
      if (!message) {
        if (load_error == std::errc::no_such_file_or_directory) continue;
        why = load_error == std::errc::bad_message ? "unreadable record" : load_error.message();
      } else if (message->check) {
        ++report.checked;
        if (content_matches(*message, why)) continue;
      } else {
        continue;  // synced before it was renamed here
      }
      if (!fs::exists(corrupt)) {
        fs::create_directory(corrupt, ec);
        if (ec) return ec;
        touched.insert(root_);
      }
      fs::rename(message_path(folder, id), corrupt / id, ec);
      if (ec) return ec;
      if (fs::exists(state_path(folder, id))) {
        fs::rename(state_path(folder, id), corrupt / (id + std::string(kStateSuffix)), ec);
        if (ec) return ec;
      }
      touched.insert(folder_path(folder));
      touched.insert(corrupt);
      ++report.set_aside;
      spdlog::warn("spool: {}/{} set aside in {}: {} (a commit cut short by a crash is never acknowledged)",
                   to_string(folder), id, corrupt.string(), why);
    }
  }
  for (const auto& dir : touched) {
    if (auto sync_error = sync_directory(dir)) return sync_error;
  }
  return {};
}

std::optional<StoredMessage> SpoolDir::load(Folder folder, const QueueId& id, std::error_code& error) const {
  error.clear();
  if (!is_queue_id(id)) {
    error = std::make_error_code(std::errc::invalid_argument);
    return std::nullopt;
  }
  const fs::path path = message_path(folder, id);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    error = last_error();
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    error = last_error();
    return std::nullopt;
  }
  std::string record;
  if ((error = read_at(fd.get(), record, kRecordBlock, 0))) return std::nullopt;
  uint64_t offset = record_content_offset(record);
  if (offset == 0 || offset > static_cast<uint64_t>(st.st_size)) {
    error = std::make_error_code(std::errc::bad_message);
    return std::nullopt;
  }
  if (offset > record.size() && (error = read_at(fd.get(), record, offset, 0))) return std::nullopt;

  StoredMessage message;
  std::string why;
  if (!parse_record(record, message, why) || message.id != id) {
    spdlog::warn("spool: {}: {}", path.string(), why.empty() ? "id does not match the file name" : why);
    error = std::make_error_code(std::errc::bad_message);
    return std::nullopt;
  }
  message.folder = folder;
  message.content_path = path.string();
  message.size = static_cast<uint64_t>(st.st_size) - offset;

  std::string state;
  bool missing = false;
  if (auto state_error = read_small_file(state_path(folder, id), state, missing)) {
    if (!missing) {
      error = state_error;
      return std::nullopt;
    }
  } else {
    message.state_file = true;
    if (!parse_state(state, message, why)) {
      // A state file is only ever renamed into place complete, so this is damage: keep the record's state.
      spdlog::warn("spool: {}: {}; using the envelope record's state", state_path(folder, id).string(), why);
    }
  }
  return message;
}

std::optional<StoredMessage> SpoolDir::find(const QueueId& id, std::error_code& error) const {
  for (Folder folder : {Folder::active, Folder::hold, Folder::failed}) {
    auto message = load(folder, id, error);
    if (message || error != std::errc::no_such_file_or_directory) return message;
  }
  return std::nullopt;
}

std::vector<QueueId> SpoolDir::ids(Folder folder, std::error_code& error) const {
  error.clear();
  std::vector<QueueId> ids;
  for (const auto& entry : fs::directory_iterator(folder_path(folder), error)) {
    std::string name = entry.path().filename().string();
    if (is_queue_id(name)) ids.push_back(std::move(name));
  }
  if (error) return {};
  std::sort(ids.begin(), ids.end());
  return ids;
}

void SpoolDir::visit(Folder folder, const std::function<void(StoredMessage&&)>& each, std::error_code& error) const {
  std::vector<QueueId> ids = this->ids(folder, error);
  for (const auto& id : ids) {
    std::error_code load_error;
    if (auto message = load(folder, id, load_error)) {
      each(std::move(*message));
    } else if (load_error != std::errc::no_such_file_or_directory) {
      spdlog::warn("spool: skipping {}/{}: {}", to_string(folder), id, load_error.message());
    }
  }
}

std::vector<StoredMessage> SpoolDir::scan(Folder folder, std::error_code& error) const {
  std::vector<StoredMessage> messages;
  visit(folder, [&](StoredMessage&& message) { messages.push_back(std::move(message)); }, error);
  if (error) return {};
  return messages;
}

std::string SpoolDir::read_headers(const StoredMessage& message, size_t cap, std::error_code& error) const {
  error.clear();
  Fd fd(::open(message.content_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    error = last_error();
    return {};
  }
  std::string headers;
  std::string chunk;
  constexpr size_t kChunk = 8192;
  while (headers.size() < cap) {
    if ((error = read_at(fd.get(), chunk, std::min(kChunk, cap - headers.size()),
                         message.content_offset + headers.size()))) {
      return {};
    }
    if (chunk.empty()) break;
    size_t scan_from = headers.size() > 3 ? headers.size() - 3 : 0;
    headers += chunk;
    size_t end = headers.find("\n\r\n", scan_from);
    size_t bare = headers.find("\n\n", scan_from);
    if (end != headers.npos || bare != headers.npos) {
      size_t cut = std::min(end == headers.npos ? headers.npos : end + 3, bare == headers.npos ? headers.npos : bare + 2);
      headers.resize(cut);
      break;
    }
  }
  return headers;
}

namespace {

std::atomic<uint64_t> state_counter{0};

}  // namespace

SpoolChange SpoolDir::state_change(const StoredMessage& message, std::error_code& error) const {
  error.clear();
  SpoolChange change;
  fs::path tmp = temporary_path(message.id + ".state." + std::to_string(::getpid()) + "." +
                                std::to_string(state_counter.fetch_add(1)));
  if ((error = fault(SpoolStep::create))) return change;
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    error = last_error();
    return change;
  }
  if ((error = write_at(*this, fd.get(), encode_state(message), 0))) {
    ::unlink(tmp.c_str());
    return change;
  }
  change.fd = fd.release();
  change.renames.emplace_back(tmp, state_path(message.folder, message.id));
  return change;
}

SpoolChange SpoolDir::move_change(StoredMessage& message, Folder to, std::error_code& error) const {
  Folder from = message.folder;
  StoredMessage moved = message;
  moved.folder = to;
  SpoolChange change = state_change(moved, error);
  if (error) return change;
  // The message goes first: a crash after it leaves the old state behind, which recover() reattaches.
  change.renames.insert(change.renames.begin(), {message_path(from, message.id), message_path(to, message.id)});
  if (message.state_file) change.removals.push_back(state_path(from, message.id));
  moved.content_path = message_path(to, message.id).string();
  moved.state_file = true;
  message = std::move(moved);
  return change;
}

SpoolChange SpoolDir::removal_change(const StoredMessage& message, bool durable) const {
  SpoolChange change;
  change.sync_removals = durable;
  if (message.content_offset > 0) change.first_removal_size = message.content_offset + message.size;
  change.first_removal_file = message.file;
  change.removals.push_back(message_path(message.folder, message.id));
  if (message.state_file) change.removals.push_back(state_path(message.folder, message.id));
  return change;
}

std::error_code SpoolDir::apply(SpoolChange& change) const {
  return apply_all({&change}, SyncMethod::fdatasync).front();
}

std::vector<std::error_code> SpoolDir::apply_all(std::vector<SpoolChange*> changes, SyncMethod method) const {
  PartlyApplied applied = apply_files(std::move(changes), method);
  return sync_folders(applied);
}

SpoolDir::PartlyApplied SpoolDir::apply_files(std::vector<SpoolChange*> changes, SyncMethod method) const {
  const size_t count = changes.size();
  PartlyApplied applied;
  applied.errors.resize(count);
  applied.touched.resize(count);
  applied.renamed.resize(count, 0);
  auto& errors = applied.errors;
  const fs::path tmp = root_ / "tmp";

  auto touch = [&](size_t i, const fs::path& folder) {
    auto& folders = applied.touched[i];
    if (std::find(folders.begin(), folders.end(), folder) == folders.end()) folders.push_back(folder);
  };
  // Renames (touching their folders unless `covered`: a file-system sync after them makes them durable too).
  auto rename_all = [&](size_t i, bool covered) {
    for (const auto& [from, to] : changes[i]->renames) {
      errors[i] = fault(SpoolStep::rename);
      if (!errors[i] && ::rename(from.c_str(), to.c_str()) != 0) errors[i] = last_error();
      if (errors[i]) break;
      ++applied.renamed[i];
      if (covered) continue;
      touch(i, to.parent_path());
      if (!is_in(from, tmp)) touch(i, from.parent_path());
    }
  };

  // 1. Make the written files durable. With one syncfs(), the files whose record can tell a torn copy from a whole
  // one (SpoolChange::checked) are renamed into place first: the same sync then makes their data and their folder
  // entries durable, instead of a data sync followed by a folder fsync.
  size_t files = std::count_if(changes.begin(), changes.end(), [](const SpoolChange* c) { return c->fd >= 0; });
  const bool all_checked =
      std::all_of(changes.begin(), changes.end(), [](const SpoolChange* c) { return c->fd < 0 || c->checked; });
  const bool use_syncfs = files > 0 && (method == SyncMethod::syncfs ||
                                        (method == SyncMethod::automatic && sync_chooser_->use_syncfs(files, all_checked)));
  std::vector<char> renamed_early(count, 0);
  const auto sync_started = std::chrono::steady_clock::now();
  if (use_syncfs) {
    int any_fd = -1;
    for (size_t i = 0; i < count; ++i) {
      if (changes[i]->fd < 0) continue;
      any_fd = changes[i]->fd;
      if (!changes[i]->checked) continue;
      renamed_early[i] = 1;
      rename_all(i, true);
    }
    std::error_code ec = fault(SpoolStep::sync);
    const uint64_t ticket = active_syncs_->started.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (!ec && ::syncfs(any_fd) != 0) ec = last_error();
    if (!ec) {
      active_sync_done(ticket);
      synced(SyncKind::filesystem);
    }
    for (size_t i = 0; i < count; ++i)
      if (changes[i]->fd >= 0 && !errors[i]) errors[i] = ec;
    if (!ec) sync_chooser_->syncfs_took(std::chrono::steady_clock::now() - sync_started);
  } else if (files > 0) {
    bool all_synced = true;
    for (size_t i = 0; i < count; ++i) {
      if (changes[i]->fd < 0) continue;
      errors[i] = fault(SpoolStep::sync);
      if (!errors[i] && ::fdatasync(changes[i]->fd) != 0) errors[i] = last_error();
      if (!errors[i]) synced(SyncKind::file);
      all_synced = all_synced && !errors[i];
    }
    if (all_synced) sync_chooser_->fdatasync_took(files, std::chrono::steady_clock::now() - sync_started);
  }
  for (auto* change : changes) change->release_fd();

  // 2. Renames and removals, remembering which folders each change touched.
  for (size_t i = 0; i < count; ++i) {
    if (errors[i]) continue;
    if (!renamed_early[i]) rename_all(i, false);
    if (errors[i]) continue;
    for (size_t r = 0; r < changes[i]->removals.size(); ++r) {
      const fs::path& path = changes[i]->removals[r];
      const bool recycle = r == 0 && !changes[i]->recycle_into.empty();
      errors[i] = fault(SpoolStep::remove);
      if (!errors[i] && (recycle ? ::rename(path.c_str(), changes[i]->recycle_into.c_str())
                                 : ::unlink(path.c_str())) != 0) {
        if (errno == ENOENT) continue;
        errors[i] = last_error();
      }
      if (errors[i]) break;
      if (changes[i]->sync_removals) touch(i, path.parent_path());
    }
  }
  applied.changes = std::move(changes);
  return applied;
}

std::vector<std::error_code> SpoolDir::sync_folders(PartlyApplied& applied) const {
  const auto& changes = applied.changes;
  auto& errors = applied.errors;
  const size_t count = changes.size();
  const fs::path tmp = root_ / "tmp";

  // 3. One fsync per folder for the whole group.
  std::set<fs::path> folders;
  for (size_t i = 0; i < count; ++i)
    if (!errors[i]) folders.insert(applied.touched[i].begin(), applied.touched[i].end());
  for (const auto& folder : folders) {
    std::error_code ec = sync_directory(folder);
    if (!ec) continue;
    for (size_t i = 0; i < count; ++i) {
      const auto& touched = applied.touched[i];
      if (!errors[i] && std::find(touched.begin(), touched.end(), folder) != touched.end()) errors[i] = ec;
    }
  }

  // 4. A failed change leaves no temporary file behind, and a failed commit no message either.
  for (size_t i = 0; i < count; ++i) {
    if (!errors[i]) continue;
    const auto& renames = changes[i]->renames;
    for (size_t r = 0; r < renames.size(); ++r) {
      if (r < applied.renamed[i]) {
        if (changes[i]->undo_renames_on_failure) ::unlink(renames[r].second.c_str());
      } else if (is_in(renames[r].first, tmp)) {
        ::unlink(renames[r].first.c_str());
      }
    }
  }
  return std::move(errors);
}

std::optional<SpoolLock> SpoolLock::acquire(const fs::path& root, std::error_code& error) {
  error.clear();
  int fd = ::open((root / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = last_error();
    return std::nullopt;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK ? std::make_error_code(std::errc::resource_unavailable_try_again) : last_error();
    ::close(fd);
    return std::nullopt;
  }
  return SpoolLock(fd);
}

SpoolLock::SpoolLock(SpoolLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

SpoolLock& SpoolLock::operator=(SpoolLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

SpoolLock::~SpoolLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code write_at(const SpoolDir& dir, int fd, std::string_view first, std::string_view second,
                         uint64_t offset) {
  if (auto ec = dir.fault(SpoolStep::write)) return ec;
  const size_t total = first.size() + second.size();
  size_t done = 0;
  while (done < total) {
    iovec parts[2];
    int count = 0;
    if (done < first.size()) {
      parts[count++] = {const_cast<char*>(first.data() + done), first.size() - done};
      parts[count++] = {const_cast<char*>(second.data()), second.size()};
    } else {
      const size_t into = done - first.size();
      parts[count++] = {const_cast<char*>(second.data() + into), second.size() - into};
    }
    ssize_t wrote = ::pwritev(fd, parts, count, static_cast<off_t>(offset + done));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    done += static_cast<size_t>(wrote);
  }
  return {};
}

std::error_code write_at(const SpoolDir& dir, int fd, std::string_view bytes, uint64_t offset) {
  if (auto ec = dir.fault(SpoolStep::write)) return ec;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t wrote = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    done += static_cast<size_t>(wrote);
  }
  return {};
}

}  // namespace smarthost::queue
