// [performance] cpu_scheduling: every thread of the process gets the policy, threads started before the call too.
#include "app/cpu_scheduling.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace smarthost::app {
namespace {

class OtherThread {
 public:
  OtherThread()
      : thread_([this] {
          tid_ = ::gettid();
          while (!stop_) std::this_thread::yield();
        }) {
    while (tid_ == 0) std::this_thread::yield();
  }
  ~OtherThread() {
    stop_ = true;
    thread_.join();
  }
  pid_t tid() const { return tid_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

TEST(CpuScheduling, BatchReachesEveryThreadAndNormalUndoesIt) {
  OtherThread other;
  ASSERT_FALSE(apply_cpu_scheduling(conf::CpuScheduling::batch));
  EXPECT_EQ(::sched_getscheduler(0), SCHED_BATCH);
  EXPECT_EQ(::sched_getscheduler(other.tid()), SCHED_BATCH);
  // A thread started afterwards inherits it.
  std::atomic<int> inherited{-1};
  std::thread([&] { inherited = ::sched_getscheduler(0); }).join();
  EXPECT_EQ(inherited, SCHED_BATCH);

  ASSERT_FALSE(apply_cpu_scheduling(conf::CpuScheduling::normal));
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
  EXPECT_EQ(::sched_getscheduler(other.tid()), SCHED_OTHER);
}

TEST(CpuScheduling, NamesAsInTheConfiguration) {
  EXPECT_STREQ(cpu_scheduling_name(conf::CpuScheduling::batch), "batch");
  EXPECT_STREQ(cpu_scheduling_name(conf::CpuScheduling::normal), "normal");
}

}  // namespace
}  // namespace smarthost::app
