// The recycled-file pool: names in tmp/ for delivered messages' files, and the files ready for new messages.
#include "queue/file_pool.h"

#include <sys/stat.h>

#include <string>

namespace smarthost::queue {
namespace fs = std::filesystem;

FilePool::FilePool(fs::path tmp, size_t capacity, uint64_t max_size)
    : tmp_(std::move(tmp)), capacity_(capacity), max_size_(max_size) {}

std::optional<fs::path> FilePool::name_for(const fs::path& file, std::optional<uint64_t> size) {
  if (capacity_ == 0 || this->size() >= capacity_) return std::nullopt;
  if (!size) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return std::nullopt;
    size = static_cast<uint64_t>(st.st_size);
  }
  if (*size > max_size_) return std::nullopt;
  return tmp_ / (std::string(kRecycledPrefix) + std::to_string(names_.fetch_add(1, std::memory_order_relaxed)));
}

bool FilePool::put(File file, uint64_t ready_after) {
  std::lock_guard lock(mutex_);
  if (files_.size() >= capacity_) return false;
  files_.emplace_back(std::move(file), ready_after);
  return true;
}

std::optional<FilePool::File> FilePool::take(uint64_t active_syncs_done) {
  std::lock_guard lock(mutex_);
  if (files_.empty() || files_.front().second > active_syncs_done) return std::nullopt;
  File file = std::move(files_.front().first);
  files_.pop_front();
  return file;
}

size_t FilePool::size() const {
  std::lock_guard lock(mutex_);
  return files_.size();
}

}  // namespace smarthost::queue
