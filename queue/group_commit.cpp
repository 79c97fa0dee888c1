// The group commit thread: takes every change queued since its last round and applies them with shared syncs.
#include "queue/group_commit.h"

#include <pthread.h>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

namespace smarthost::queue {
namespace asio = boost::asio;

namespace {
constexpr size_t kMaxGather = 64;  // a group never waits for more commits than this
constexpr size_t kMaxSyncing = 2;  // groups between their data sync and their completion
}  // namespace

struct GroupCommit::Job {
  SpoolChange change;
  asio::any_io_executor executor;  // tracks outstanding work until the completion is posted
  Completion done;
};

struct GroupCommit::Group {
  std::deque<Job> jobs;
  SpoolDir::PartlyApplied applied;
};

GroupCommit::GroupCommit(const SpoolDir& dir, SpoolDir::SyncMethod method, std::chrono::microseconds gather,
                         std::string name)
    : dir_(dir),
      method_(method),
      gather_(gather),
      name_(std::move(name)),
      folder_thread_([this] {
        ::pthread_setname_np(::pthread_self(), (name_ + "/folders").substr(0, 15).c_str());
        sync_folders();
      }),
      thread_([this] {
        ::pthread_setname_np(::pthread_self(), name_.substr(0, 15).c_str());
        run();
      }) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  {
    std::lock_guard lock(mutex_);
    folders_stopping_ = true;
  }
  folder_wake_.notify_one();
  folder_thread_.join();
}

void GroupCommit::submit(SpoolChange change, asio::any_io_executor executor, Completion done) {
  Job job{std::move(change), asio::prefer(executor, asio::execution::outstanding_work.tracked), std::move(done)};
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(job));
    // Wake the thread only when what it waits for has come: a wake-up per commit would cost a futex round trip
    // each while a group gathers, and none is needed while it syncs.
    wake = waiting_for_ > 0 && pending_.size() >= waiting_for_;
    if (wake) waiting_for_ = 0;
  }
  if (wake) wake_.notify_one();
}

void GroupCommit::message_started() {
  std::lock_guard lock(mutex_);
  ++receiving_;
}

void GroupCommit::message_ended() {
  std::lock_guard lock(mutex_);
  if (receiving_ > 0) --receiving_;
}

uint64_t GroupCommit::groups() const {
  std::lock_guard lock(mutex_);
  return groups_;
}

uint64_t GroupCommit::changes() const {
  std::lock_guard lock(mutex_);
  return changes_;
}

void GroupCommit::run() {
  while (true) {
    std::deque<Job> group;
    {
      std::unique_lock lock(mutex_);
      waiting_for_ = 1;
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and nothing left to do
      // Commit delay: wait a little for the messages being received right now, or, under a steady load, for as
      // many commits as the last group had.
      if (gather_.count() > 0 && !stopping_) {
        const size_t target = std::min<size_t>(std::max(pending_.size() + receiving_, last_group_), kMaxGather);
        if (target > pending_.size()) {
          waiting_for_ = target;
          wake_.wait_for(lock, gather_, [&] { return stopping_ || pending_.size() >= target; });
        }
      }
      waiting_for_ = 0;  // busy: submissions need not wake it until it waits again
      group.swap(pending_);
    }
    auto syncing = std::make_unique<Group>();
    syncing->jobs = std::move(group);
    std::vector<SpoolChange*> changes;
    changes.reserve(syncing->jobs.size());
    for (auto& job : syncing->jobs) changes.push_back(&job.change);
    syncing->applied = dir_.apply_files(std::move(changes), method_);
    const auto& touched = syncing->applied.touched;
    const bool folders_to_sync =
        std::any_of(touched.begin(), touched.end(), [](const auto& folders) { return !folders.empty(); });
    {
      std::unique_lock lock(mutex_);
      last_group_ = syncing->jobs.size();
      // A group with no folder to fsync (new messages renamed before their syncfs()) is completed here, unless an
      // earlier group still waits for its folders: a hand-over to the folder thread costs a wake-up.
      if (!folders_to_sync && syncing_.empty()) {
        lock.unlock();
        complete(*syncing, dir_.sync_folders(syncing->applied));
        continue;
      }
      folder_done_.wait(lock, [this] { return syncing_.size() < kMaxSyncing; });
      syncing_.push_back(std::move(syncing));
    }
    folder_wake_.notify_one();
  }
}

void GroupCommit::complete(Group& group, const std::vector<std::error_code>& errors) {
  {
    std::lock_guard lock(mutex_);
    ++groups_;
    changes_ += group.jobs.size();
  }
  for (size_t i = 0; i < group.jobs.size(); ++i) {
    auto& job = group.jobs[i];
    asio::post(job.executor, [done = std::move(job.done), error = errors[i]]() mutable { std::move(done)(error); });
  }
}

void GroupCommit::sync_folders() {
  while (true) {
    Group* group = nullptr;
    {
      std::unique_lock lock(mutex_);
      folder_wake_.wait(lock, [this] { return folders_stopping_ || !syncing_.empty(); });
      if (syncing_.empty()) return;  // stopping, and every group completed
      group = syncing_.front().get();
    }
    std::vector<std::error_code> errors = dir_.sync_folders(group->applied);
    std::unique_ptr<Group> finished;
    {
      std::lock_guard lock(mutex_);
      finished = std::move(syncing_.front());
      syncing_.pop_front();
    }
    folder_done_.notify_one();
    complete(*finished, errors);
  }
}

}  // namespace smarthost::queue
