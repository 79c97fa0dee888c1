// The health-check loop with scripted transports: verdicts after failure_threshold failures and on recovery, the
// probe deadline, one probe per upstream at a time, and no verdicts after stop().
#include "ops/health_checker.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <mutex>
#include <thread>

#include "tests/unit/ops/ops_fakes.h"

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;

struct Loop {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  std::shared_ptr<test::ScriptedTransport> a = std::make_shared<test::ScriptedTransport>("a");
  std::shared_ptr<test::ScriptedTransport> b = std::make_shared<test::ScriptedTransport>("b");
  std::mutex mutex;
  std::vector<std::pair<size_t, bool>> verdicts;
  std::shared_ptr<HealthChecker> checker;

  void start(HealthCheckSettings settings) {
    std::vector<ProbeTarget> targets{{0, "a", a}, {1, "b", b}};
    checker = std::make_shared<HealthChecker>(
        io.get_executor(), settings, [targets] { return targets; },
        [this](size_t index, bool healthy) {
          std::lock_guard lock(mutex);
          verdicts.emplace_back(index, healthy);
        });
    checker->start();
  }
  std::vector<std::pair<size_t, bool>> seen() {
    std::lock_guard lock(mutex);
    return verdicts;
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds limit = 5s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }
  ~Loop() {
    if (checker) checker->stop();
    work.reset();
    io.stop();
    thread.join();
  }
};

HealthCheckSettings fast(uint32_t threshold) {
  HealthCheckSettings s;
  s.interval = 20ms;
  s.timeout = 1000ms;
  s.failure_threshold = threshold;
  return s;
}

TEST(HealthChecker, OutAfterThresholdFailuresBackOnSuccess) {
  Loop l;
  l.a->push_probe(false, "connect refused");
  l.a->push_probe(false, "connect refused");
  l.a->push_probe(false, "connect refused");
  l.start(fast(3));
  auto back = [&] {
    auto v = l.seen();
    return !v.empty() && v.back() == std::pair<size_t, bool>{0, true};
  };
  ASSERT_TRUE(l.wait(back)) << "never back in rotation";
  auto v = l.seen();
  EXPECT_EQ(v[0], (std::pair<size_t, bool>{0, false}));
  // While out, each round says so again (for a router rebuilt by a reload); then one success brings it back.
  for (size_t i = 0; i + 1 < v.size(); ++i) EXPECT_EQ(v[i], (std::pair<size_t, bool>{0, false}));
  auto snap = l.checker->snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_GE(snap[0].probes_failed, 3u);
  EXPECT_TRUE(snap[0].healthy);
  EXPECT_TRUE(snap[1].healthy);
  EXPECT_GE(snap[1].probes_ok, 1u);
  for (const auto& [index, healthy] : v) EXPECT_EQ(index, 0u) << "b never failed";
}

TEST(HealthChecker, UnansweredProbesFailAtTheDeadlineAndDoNotPileUp) {
  Loop l;
  l.a->set_probe_delay(400ms);
  auto settings = fast(1);
  settings.timeout = 50ms;
  l.start(settings);
  ASSERT_TRUE(l.wait([&] { return !l.seen().empty(); }));
  EXPECT_EQ(l.seen()[0], (std::pair<size_t, bool>{0, false}));
  auto snap = l.checker->snapshot();
  EXPECT_EQ(snap[0].last_detail, "no answer within 50 ms");
  // 20 ms rounds, but each slow probe runs 400 ms and a new one starts only after it ends.
  std::this_thread::sleep_for(300ms);
  EXPECT_LE(l.a->probes(), 2);
  EXPECT_GE(l.b->probes(), 3);
}

TEST(HealthChecker, UnhealthyUpstreamsAreReassertedEachRound) {
  // A router rebuilt by a reload starts with everything in rotation; the checker says again who is out.
  Loop l;
  l.a->set_steady_probe(false, "down");
  l.start(fast(1));
  ASSERT_TRUE(l.wait([&] { return l.seen().size() >= 3; }));
  for (const auto& v : l.seen()) EXPECT_EQ(v, (std::pair<size_t, bool>{0, false}));
}

TEST(HealthChecker, NoVerdictsAfterStop) {
  Loop l;
  l.a->set_probe_delay(100ms);
  l.a->set_steady_probe(false, "down");
  l.start(fast(1));
  l.checker->stop();
  std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(l.seen().empty());
}

TEST(HealthChecker, SettingsFromTheConfiguration) {
  conf::HealthCheckConfig c;
  c.interval = std::chrono::seconds(60);
  c.timeout = std::chrono::seconds(5);
  c.failure_threshold = 4;
  auto s = HealthCheckSettings::from(c);
  EXPECT_EQ(s.interval, 60s);
  EXPECT_EQ(s.timeout, 5s);
  EXPECT_EQ(s.failure_threshold, 4u);
}

}  // namespace
}  // namespace smarthost::ops
