// Chooses syncfs() or per-file fdatasync() for a group of spool files from their measured costs (sync_chooser.h).
#include "queue/sync_chooser.h"

namespace smarthost::queue {
namespace {

constexpr double kWeight = 0.125;  // of the newest measurement in a moving average

void average_in(double& average, double sample) {
  average = average == 0 ? sample : average + kWeight * (sample - average);
}

}  // namespace

bool SyncChooser::use_syncfs(size_t files, bool renamed_first) {
  const bool small = files < kMinFilesForSyncfs;
  if (files == 0 || (small && !renamed_first)) return false;
  std::lock_guard lock(mutex_);
  if (syncfs_ns_ == 0 || per_file_ns_ == 0) {
    // Until both are known: syncfs() for three files or more (the cheaper on a quiet file system); per-file syncs
    // for fewer, whose cost other writers' dirty data cannot inflate (a one-shot process, such as sendmail's
    // offline fallback, never learns more), with a syncfs() probe now and then.
    return !small || ++since_probe_ >= kProbeEvery;
  }
  const double per_file_way = per_file_ns_ * static_cast<double>(files) + (renamed_first ? folder_ns_ : 0);
  if (syncfs_ns_ <= per_file_way) return true;
  if (++since_probe_ >= kProbeEvery) return true;  // a probe: is the file system quiet again?
  return false;
}

void SyncChooser::syncfs_took(std::chrono::nanoseconds duration) {
  std::lock_guard lock(mutex_);
  since_probe_ = 0;
  average_in(syncfs_ns_, static_cast<double>(duration.count()));
}

void SyncChooser::fdatasync_took(size_t files, std::chrono::nanoseconds duration) {
  if (files == 0) return;
  std::lock_guard lock(mutex_);
  average_in(per_file_ns_, static_cast<double>(duration.count()) / static_cast<double>(files));
}

void SyncChooser::folder_sync_took(std::chrono::nanoseconds duration) {
  std::lock_guard lock(mutex_);
  average_in(folder_ns_, static_cast<double>(duration.count()));
}

double SyncChooser::folder_sync_cost() const {
  std::lock_guard lock(mutex_);
  return folder_ns_;
}

double SyncChooser::syncfs_cost() const {
  std::lock_guard lock(mutex_);
  return syncfs_ns_;
}

double SyncChooser::per_file_cost() const {
  std::lock_guard lock(mutex_);
  return per_file_ns_;
}

}  // namespace smarthost::queue
