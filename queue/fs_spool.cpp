// FsSpool and its writer: a message streams into tmp/<id> after a reserved record block; commit() writes the
// envelope record into that block and hands the file to the group commit, which syncs it into active/.
#include "queue/fs_spool.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <limits>
#include <optional>
#include <vector>

#include "queue/crc32c.h"
#include "queue/spool_record.h"

namespace smarthost::queue {
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

constexpr size_t kInitialBuffer = 16 * 1024;

class FsSpoolWriter final : public SpoolWriter {
 public:
  // `reused_size`: the file held an earlier message of that many bytes (file_pool.h); it is cut to this one's
  // length before its sync when that one was longer. `file`, when set, owns `fd` (a pooled file still open).
  FsSpoolWriter(FsSpool& spool, QueueId id, int fd, std::shared_ptr<const mail::ContentFile> file, fs::path path,
                std::optional<uint64_t> reused_size)
      : spool_(spool),
        id_(std::move(id)),
        fd_(fd),
        file_(std::move(file)),
        path_(std::move(path)),
        reused_size_(reused_size) {
    // Grows up to write_buffer() only for messages that need it: most are a few KiB, and a 64 KiB allocation per
    // message made the allocator consolidate and trim its heap on every free.
    buffer_.reserve(std::min<size_t>(spool_.write_buffer(), kInitialBuffer));
    spool_.group_commit().message_started();
  }

  ~FsSpoolWriter() override {
    close_fd();
    if (!handed_over_) ::unlink(path_.c_str());
    end_message();
  }

  void append(std::string_view bytes) override {
    size_ += bytes.size();
    if (error_) return;
    if (buffer_.size() + bytes.size() > spool_.write_buffer()) flush();
    if (bytes.size() >= spool_.write_buffer()) {
      write(bytes);
    } else {
      buffer_.append(bytes);
    }
  }

  std::string& append_buffer() override { return buffer_; }
  void appended(size_t before) override {
    size_ += buffer_.size() - before;
    if (error_) {
      buffer_.clear();  // nothing more is written after a write error
    } else if (buffer_.size() >= spool_.write_buffer()) {
      flush();
    }
  }

  uint64_t size() const override { return size_; }
  const QueueId& id() const override { return id_; }

  const FsSpool& spool() const { return spool_; }

  StagedMessage stage() {
    StagedMessage staged;
    if (handed_over_ || fd_ < 0) {
      staged.error = std::make_error_code(std::errc::invalid_argument);
      return staged;
    }
    flush();
    cut();
    staged.error = error_;
    staged.path = path_.string();
    staged.offset = kRecordBlock;
    staged.size = size_;
    return staged;
  }

  asio::awaitable<CommitResult> commit(const mail::Envelope& envelope) override {
    if (handed_over_ || fd_ < 0) co_return CommitResult{std::make_error_code(std::errc::invalid_argument), {}};
    StoredMessage message;
    message.id = id_;
    message.envelope = envelope;
    auto now = std::chrono::system_clock::now();
    if (message.envelope.received_at == std::chrono::system_clock::time_point{}) message.envelope.received_at = now;
    message.next_attempt = now;
    if (written_ > 0) {  // a long message, mostly in its file already: the rest goes after it
      flush();
      cut();
    }
    // The content as it will be once the buffer (if any is left) is out.
    message.check = ContentCheck{written_ + buffer_.size(), crc32c(crc_, buffer_)};
    std::string record = encode_record(message);
    if (!error_ && written_ == 0 && record.size() == kRecordBlock) {
      // The usual case, a message smaller than the write buffer: record and content in one pwritev().
      error_ = write_at(spool_.dir(), fd_, record, buffer_, 0);
      written_ = message.check->octets;
      crc_ = message.check->crc;
      buffer_.clear();
      cut();
    } else {
      flush();
      cut();
      if (!error_ && record.size() == kRecordBlock) {
        error_ = write_at(spool_.dir(), fd_, record, 0);
      } else if (!error_) {
        relocate(record);
      }
    }
    if (error_) {
      spdlog::warn("spool: qid={} not stored: {}", id_, error_.message());
      co_return CommitResult{error_, {}};  // the destructor removes the file
    }

    // The descriptor stays open for the delivery when the spool's budget allows (mail/content_file.h).
    if (!file_) file_ = mail::ContentFile::adopt(fd_, spool_.open_files());
    SpoolChange change;
    change.fd = std::exchange(fd_, -1);
    change.fd_owner = file_;
    change.renames.emplace_back(path_, spool_.dir().message_path(Folder::active, id_));
    change.undo_renames_on_failure = true;
    change.checked = true;
    handed_over_ = true;  // from here on the change removes the file when it fails
    end_message();          // before the submit: its own group must not wait for it
    std::error_code error = co_await spool_.apply(std::move(change));
    if (error) {
      spdlog::warn("spool: qid={} not stored: {}", id_, error.message());
      co_return CommitResult{error, {}};
    }
    message.content_path = spool_.dir().message_path(Folder::active, id_).string();
    message.content_offset = record.size();
    message.size = size_;
    message.file = std::move(file_);
    spool_.committed(message);
    co_return CommitResult{{}, id_};
  }

 private:
  // Closes fd_, or lets go of it when file_ owns it.
  void close_fd() {
    if (fd_ >= 0 && !file_) ::close(fd_);
    fd_ = -1;
    file_.reset();
  }

  void flush() {
    if (!buffer_.empty() && !error_) write(buffer_);
    buffer_.clear();
  }

  // A reused file ends where this message does, not where the earlier one did. An earlier message no longer
  // than this one was overwritten whole: no truncation (a syscall saved per message of a steady size).
  void cut() {
    if (!reused_size_ || error_) return;
    const uint64_t end = kRecordBlock + written_;
    if (*reused_size_ > end && ::ftruncate(fd_, static_cast<off_t>(end)) != 0) error_ = last_error();
    reused_size_.reset();
  }

  void write(std::string_view bytes) {
    error_ = write_at(spool_.dir(), fd_, bytes, kRecordBlock + written_);
    written_ += bytes.size();
    crc_ = crc32c(crc_, bytes);
  }

  // The record outgrew its reserved block (thousands of recipients): copy the content behind a bigger one.
  void relocate(const std::string& record) {
    fs::path bigger = path_;
    bigger += ".r";
    if ((error_ = spool_.dir().fault(SpoolStep::create))) return;
    int fd = ::open(bigger.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      error_ = last_error();
      return;
    }
    error_ = write_at(spool_.dir(), fd, record, 0);
    std::string chunk(std::max<size_t>(spool_.write_buffer(), 4096), '\0');
    for (uint64_t copied = 0; !error_ && copied < written_;) {
      ssize_t got = ::pread(fd_, chunk.data(), std::min<uint64_t>(chunk.size(), written_ - copied),
                            static_cast<off_t>(kRecordBlock + copied));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        error_ = got < 0 ? last_error() : std::make_error_code(std::errc::io_error);
        break;
      }
      error_ = write_at(spool_.dir(), fd, std::string_view(chunk.data(), static_cast<size_t>(got)),
                        record.size() + copied);
      copied += static_cast<uint64_t>(got);
    }
    if (error_) {
      ::close(fd);
      ::unlink(bigger.c_str());
      return;
    }
    close_fd();
    ::unlink(path_.c_str());
    fd_ = fd;
    path_ = bigger;
  }

  FsSpool& spool_;
  QueueId id_;
  int fd_;
  std::shared_ptr<const mail::ContentFile> file_;  // owns fd_ when set
  fs::path path_;
  std::string buffer_;
  uint64_t size_ = 0;     // bytes appended
  uint64_t written_ = 0;  // bytes written to the file after the record block
  uint32_t crc_ = 0;      // their CRC-32C
  std::error_code error_;
  std::optional<uint64_t> reused_size_;  // until cut()
  bool handed_over_ = false;
  bool ended_ = false;

  void end_message() {
    if (std::exchange(ended_, true)) return;
    spool_.group_commit().message_ended();
  }
};

}  // namespace

std::unique_ptr<FsSpool> FsSpool::open(const fs::path& root, FsSpoolOptions options, std::error_code& error) {
  error.clear();
  fs::create_directories(root, error);
  if (error) return nullptr;
  auto lock = SpoolLock::acquire(root, error);
  if (!lock) return nullptr;
  const bool fresh = !fs::exists(root / "active");  // a new spool has no clean stop behind it, nor a crash
  SpoolDir dir(root, options.hooks);
  if ((error = dir.create_layout())) return nullptr;
  RecoveryReport report;
  if ((error = dir.recover(report))) return nullptr;
  // A clean stop's marker goes before anything is committed, so that a crash from now on is noticed at the next
  // open; without one, the last stop may have cut commits short.
  const fs::path marker = root / kCleanStopFile;
  if (::unlink(marker.c_str()) == 0) {
    if ((error = dir.sync_directory(root))) return nullptr;
  } else if (errno != ENOENT) {
    error = last_error();
    return nullptr;
  } else {
    if ((error = dir.check_contents(report))) return nullptr;
    report.unclean = !fresh || report.checked > 0 || report.set_aside > 0;
    if (report.unclean) {
      spdlog::warn("spool: the last stop was not clean (no {} mark): checked {} message(s) against their records, "
                   "set {} aside in {}", kCleanStopFile, report.checked, report.set_aside,
                   (root / "corrupt").string());
    }
  }
  std::unique_ptr<FsSpool> spool(new FsSpool(std::move(dir), std::move(*lock), std::move(options)));
  spool->recovery_ = report;
  spool->ids_.follow(report.newest_id);  // new ids sort after every queued one, whatever the clock did since
  return spool;
}

namespace {

// At most `wanted`, and a quarter of the descriptors the process may open: sockets come first.
size_t open_file_budget(size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    wanted = std::min<size_t>(wanted, static_cast<size_t>(limit.rlim_cur / 4));
  return wanted;
}

}  // namespace

FsSpool::FsSpool(SpoolDir dir, SpoolLock lock, FsSpoolOptions options)
    : dir_(std::move(dir)),
      lock_(std::move(lock)),
      write_buffer_(std::max<size_t>(options.write_buffer, 1)),
      pool_(dir_.root() / "tmp", options.recycled_files, options.recycled_file_max_size),
      open_files_(std::make_shared<mail::ContentFile::Budget>(open_file_budget(options.kept_open_files))),
      cleanup_(dir_, options.sync, std::chrono::microseconds(0), "cleanup"),
      group_(dir_, options.sync, options.commit_gather, "commit") {}

FsSpool::~FsSpool() = default;

FsSpool::CleanStopMarker::~CleanStopMarker() {
  const fs::path marker = dir.root() / kCleanStopFile;
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && !dir.sync_directory(dir.root());
  if (!ok) spdlog::warn("spool: cannot mark a clean stop in {}: the next start checks every message", dir.root().string());
}

std::unique_ptr<SpoolWriter> FsSpool::begin(std::error_code& error) {
  error.clear();
  for (int tries = 0; tries < 3; ++tries) {
    // Ids are time-based but never repeat one in the spool: the generator followed the newest at open, and this
    // process (holding the spool's lock) is the only one adding messages.
    QueueId id = ids_.next();
    if ((error = dir_.fault(SpoolStep::create))) return nullptr;
    if (auto reused = pool_.take(dir_.active_syncs_done())) {
      if (reused->file) {
        const int fd = reused->file->fd();
        return std::make_unique<FsSpoolWriter>(*this, std::move(id), fd, std::move(reused->file),
                                               std::move(reused->path), reused->size);
      }
      int fd = ::open(reused->path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd >= 0)
        return std::make_unique<FsSpoolWriter>(*this, std::move(id), fd, nullptr, std::move(reused->path), reused->size);
      ::unlink(reused->path.c_str());  // gone or unusable: make a new file instead
    }
    fs::path path = dir_.temporary_path(id);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      error.clear();
      return std::make_unique<FsSpoolWriter>(*this, std::move(id), fd, nullptr, std::move(path), std::nullopt);
    }
    error = last_error();
    if (errno != EEXIST) break;
  }
  if (!error) error = std::make_error_code(std::errc::file_exists);
  spdlog::warn("spool: cannot start a message in {}: {}", dir_.root().string(), error.message());
  return nullptr;
}

StagedMessage FsSpool::stage(SpoolWriter& writer) {
  if (auto* ours = dynamic_cast<FsSpoolWriter*>(&writer); ours && &ours->spool() == this) return ours->stage();
  StagedMessage staged;
  staged.error = std::make_error_code(std::errc::invalid_argument);
  return staged;
}

asio::awaitable<std::error_code> FsSpool::apply(SpoolChange change) {
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  const bool unsynced_removal = change.fd < 0 && change.renames.empty() && !change.sync_removals;
  // A delivered message's file is kept for a new message when the pool has room (file_pool.h). That is one rename
  // within the spool, a few microseconds, so it is done here: handing it to the cleanup thread and back cost two
  // thread wake-ups per delivered message.
  if (unsynced_removal && !change.removals.empty()) {
    if (auto name = pool_.name_for(change.removals.front(), change.first_removal_size)) {
      change.recycle_into = std::move(*name);
      const fs::path recycled = change.recycle_into;
      std::vector<SpoolChange*> one{&change};
      std::error_code error = dir_.apply_all(std::move(one), SpoolDir::SyncMethod::automatic).front();
      // Reusable after the next fsync of active/ (read now that the file has left it), unless the rename failed or
      // the pool filled up meanwhile. Had the file already gone, begin() finds nothing under the name and makes a
      // new one.
      // Unknown size: the next message cuts the file whatever its length.
      const uint64_t size = change.first_removal_size.value_or(std::numeric_limits<uint64_t>::max());
      if (error || !pool_.put({recycled, size, std::move(change.first_removal_file)}, dir_.active_syncs_started() + 1))
        ::unlink(recycled.c_str());
      co_return error;
    }
  }
  // Unlinks (0.1-0.3 ms on ext4) go to the cleanup thread, everything to be synced to the group commit.
  GroupCommit& worker = unsynced_removal ? cleanup_ : group_;
  // The initiation captures references only: GCC 12 destroys temporaries of a co_await expression twice, and a
  // captured executor copy (a strand) destroyed twice frees the strand while it still runs handlers.
  auto initiation = [&worker, &change, &executor](auto handler) {
    worker.submit(std::move(change), executor, GroupCommit::Completion(std::move(handler)));
  };
  std::error_code error =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::error_code)>(initiation,
                                                                                          asio::use_awaitable);
  co_return error;
}

void FsSpool::set_commit_listener(std::function<void(const StoredMessage&)> listener) {
  std::lock_guard lock(listener_mutex_);
  listener_ = std::move(listener);
}

void FsSpool::committed(const StoredMessage& message) {
  std::function<void(const StoredMessage&)> listener;
  {
    std::lock_guard lock(listener_mutex_);
    listener = listener_;
  }
  if (listener) listener(message);
}

}  // namespace smarthost::queue
