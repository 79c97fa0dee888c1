// [performance] cpu_scheduling: every thread of the process gets the policy, threads started before the call too.
#include "app/cpu_scheduling.h"

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

// Under the systemd unit a seccomp filter forbids sched_setscheduler (SystemCallFilter=~@resources) and the unit
// sets the policy itself (CPUSchedulingPolicy=batch): applying the policy the threads already have must succeed
// without the call, and another one must report EPERM rather than crash or pretend. Checked in a child process
// that installs such a filter.
TEST(CpuScheduling, UnderASyscallFilterThePolicyTheThreadsHaveIsKept) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const sched_param param{};
    if (::sched_setscheduler(0, SCHED_BATCH, &param) != 0) ::_exit(10);  // what CPUSchedulingPolicy=batch does
    sock_filter program[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sched_setscheduler, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog filter{static_cast<unsigned short>(sizeof(program) / sizeof(program[0])), program};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0)
      ::_exit(11);
    if (::sched_setscheduler(0, SCHED_BATCH, &param) == 0 || errno != EPERM) ::_exit(12);  // the filter works
    if (apply_cpu_scheduling(conf::CpuScheduling::batch)) ::_exit(13);
    if (apply_cpu_scheduling(conf::CpuScheduling::normal) != std::errc::operation_not_permitted) ::_exit(14);
    if (::sched_getscheduler(0) != SCHED_BATCH) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: set, 11: filter, 12: filter inactive, 13: batch refused, "
                                       "14: normal not refused, 15: policy changed";
}

TEST(CpuScheduling, NamesAsInTheConfiguration) {
  EXPECT_STREQ(cpu_scheduling_name(conf::CpuScheduling::batch), "batch");
  EXPECT_STREQ(cpu_scheduling_name(conf::CpuScheduling::normal), "normal");
}

}  // namespace
}  // namespace smarthost::app
