// Readiness: spool, listeners and upstreams, each with its reason; and the spool check on a real directory.
#include "ops/readiness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"
#include "tests/unit/ops/sample_snapshot.h"

namespace smarthost::ops {
namespace {

ReadinessCheck good_spool() { return {"spool", true, "spool writable"}; }

TEST(Readiness, ReadyWhenSpoolListenersAndOneUpstreamAreFine) {
  auto r = assess_readiness(test::sample_snapshot(), good_spool());
  EXPECT_TRUE(r.ready) << r.reason;
  EXPECT_EQ(r.reason, "ready");
  ASSERT_EQ(r.checks.size(), 3u);
  EXPECT_EQ(r.checks[2].detail, "1 of 2 upstreams usable (smtp \"backup\" down)");
}

TEST(Readiness, NoUsableUpstreamIsNotReady) {
  auto s = test::sample_snapshot();
  s.upstreams[0].breaker.state = policy::BreakerState::open;
  auto r = assess_readiness(s, good_spool());
  EXPECT_FALSE(r.ready);
  EXPECT_NE(r.reason.find("0 of 2 upstreams usable"), std::string::npos) << r.reason;
  s.upstreams.clear();
  EXPECT_EQ(assess_readiness(s, good_spool()).reason, "no upstream configured");
}

TEST(Readiness, DrainingOrNoListenerIsNotReady) {
  auto s = test::sample_snapshot();
  s.draining = true;
  EXPECT_EQ(assess_readiness(s, good_spool()).reason, "shutting down: no new connections");
  s.draining = false;
  s.listeners.clear();
  EXPECT_EQ(assess_readiness(s, good_spool()).reason, "no SMTP listener is up");
}

TEST(Readiness, EveryFailedCheckIsInTheReason) {
  auto s = test::sample_snapshot();
  s.listeners.clear();
  auto r = assess_readiness(s, ReadinessCheck{"spool", false, "spool /x is full"});
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "spool /x is full; no SMTP listener is up");
  auto json = readiness_json(r);
  EXPECT_NE(json.find("\"ready\":false"), std::string::npos) << json;
  EXPECT_NE(json.find("\"spool\":{\"ok\":false,\"detail\":\"spool /x is full\"}"), std::string::npos) << json;
}

TEST(Readiness, SpoolCheckOnARealDirectory) {
  smarthost::test::TempDir dir;
  auto ok = check_spool(dir.path());
  EXPECT_TRUE(ok.ok) << ok.detail;
  auto missing = check_spool(dir.path() / "nope");
  EXPECT_FALSE(missing.ok);
  EXPECT_NE(missing.detail.find("not writable"), std::string::npos) << missing.detail;
  if (::geteuid() != 0) {  // root may write anywhere
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    EXPECT_FALSE(check_spool(dir.path()).ok);
    std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all);
  }
}

}  // namespace
}  // namespace smarthost::ops
