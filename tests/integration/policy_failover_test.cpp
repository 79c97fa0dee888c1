// Scenario: failover through `smarthost serve` with two file upstreams. While the primary cannot write (a file is
// in the way of its directory) mail goes to the fallback and the primary's circuit opens; once the primary works
// again and recovery_timeout has passed, one probe closes the circuit and mail goes to the primary again.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

size_t count_eml(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) n += e.path().extension() == ".eml";
  return n;
}

bool wait_count(const std::filesystem::path& dir, size_t n, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (count_eml(dir) >= n) return true;
    std::this_thread::sleep_for(20ms);
  }
  return count_eml(dir) >= n;
}

TEST(PolicyFailover, PrimaryFailsOverAndComesBackAfterRecovery) {
  TempDir upstreams;
  auto primary = upstreams.path() / "primary";
  auto fallback = upstreams.path() / "fallback";
  upstreams.write("primary", "a file where the primary's directory should be");

  RelayOptions o;
  o.upstream = "[primary_provider]\nprovider = \"file\"\nname = \"primary\"\n[primary_provider.config]\ndir = \"" +
               primary.string() +
               "\"\n\n[[fallback_providers]]\nprovider = \"file\"\nname = \"fallback\"\n"
               "[fallback_providers.config]\ndir = \"" +
               fallback.string() +
               "\"\n\n[failover_policy]\nmax_retries = 1\nretry_delay = 0\n"
               "[failover_policy.circuit_breaker]\nfailure_threshold = 1\nrecovery_timeout = 2\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();

  // 1. The primary fails: the message goes to the fallback and the primary's circuit opens.
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_count(fallback, 1)) << relay.log();
  auto opened = std::chrono::steady_clock::now();
  EXPECT_NE(relay.log().find("upstream=primary circuit closed -> open"), std::string::npos) << relay.log();

  // 2. The primary is repaired, but its circuit is still open: the fallback takes the next message.
  std::filesystem::remove(primary);
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_count(fallback, 2)) << relay.log();
  ASSERT_LT(std::chrono::steady_clock::now() - opened, 2s) << "too slow to see the open circuit";
  EXPECT_EQ(count_eml(primary), 0u);

  // 3. After recovery_timeout the probe goes to the primary, succeeds and closes the circuit.
  std::this_thread::sleep_until(opened + 2100ms);
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_count(primary, 1)) << relay.log();
  // The probe's file lands before the router records its success: wait for the circuit to close, or the next
  // message could meet a half-open circuit still busy with the probe and go to the fallback.
  for (auto until = std::chrono::steady_clock::now() + 10s;
       relay.log().find("upstream=primary circuit half_open -> closed") == std::string::npos &&
       std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_count(primary, 2)) << relay.log();
  EXPECT_EQ(count_eml(fallback), 2u);
  auto log = relay.log();
  auto half = log.find("upstream=primary circuit open -> half_open");
  auto closed = log.find("upstream=primary circuit half_open -> closed");
  EXPECT_NE(half, std::string::npos) << log;
  EXPECT_NE(closed, std::string::npos) << log;
  EXPECT_LT(half, closed);
}

}  // namespace
}  // namespace smarthost::test
