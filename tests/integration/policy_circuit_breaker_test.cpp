// Scenario: one upstream's circuit through `smarthost serve`. Consecutive failures open it, and the message stays
// queued (no bounce); after recovery_timeout a probe half-opens it; a failed probe opens it again, a good one
// closes it and the queued message is delivered. The log shows every state change in order. An administrator's
// `smarthost queue flush` closes an open circuit at once, as Postfix's flush forgets dead destinations.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/process.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

// A file upstream named "only" whose outbox is a file in the way, so that every delivery fails until the test
// removes it; its circuit opens after two failures.
RelayOptions failing_file_upstream(TempDir& upstreams, const std::filesystem::path& outbox, int recovery_timeout) {
  upstreams.write(outbox.filename().string(), "a file in the way: every delivery fails");
  RelayOptions o;
  o.upstream = "provider = \"file\"\nname = \"only\"\n\n[config]\ndir = \"" + outbox.string() +
               "\"\n\n[failover_policy.circuit_breaker]\nfailure_threshold = 2\nrecovery_timeout = " +
               std::to_string(recovery_timeout) + "\n";
  return o;
}

size_t delivered_files(const std::filesystem::path& outbox, size_t want, std::chrono::milliseconds timeout) {
  std::error_code ec;
  size_t delivered = 0;
  for (auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;) {
    delivered = 0;
    for (const auto& e : std::filesystem::directory_iterator(outbox, ec)) delivered += e.path().extension() == ".eml";
    if (delivered >= want) break;
    std::this_thread::sleep_for(20ms);
  }
  return delivered;
}

// Adds `line` right after the `[table]` header of the generated configuration (the harness writes [queue]).
void add_to_table(const Relay& relay, const std::string& table, const std::string& line) {
  std::string cfg = read_file(relay.config_path());
  auto at = cfg.find(table + "\n");
  ASSERT_NE(at, std::string::npos);
  cfg.insert(at + table.size() + 1, line + "\n");
  std::ofstream(relay.config_path()) << cfg;
}

bool wait_for_log(const Relay& relay, const std::string& text, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (relay.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(PolicyCircuitBreaker, OpensHalfOpensAndCloses) {
  TempDir upstreams;
  auto outbox = upstreams.path() / "out";
  Relay relay(failing_file_upstream(upstreams, outbox, 1));
  add_to_table(relay, "[queue]", "retry_schedule = [1]");
  ASSERT_TRUE(relay.start()) << relay.log();

  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  // Two failures (first attempt and one retry a second later) open the circuit; the probe after another second
  // fails as well.
  ASSERT_TRUE(wait_for_log(relay, "upstream=only circuit closed -> open (2 consecutive failures")) << relay.log();
  ASSERT_TRUE(wait_for_log(relay, "upstream=only circuit half_open -> open")) << relay.log();
  EXPECT_NE(relay.log().find("result=deferred"), std::string::npos);
  EXPECT_EQ(relay.log().find("result=failed"), std::string::npos) << "nothing may bounce while the upstream is down";

  // Repaired: the next probe succeeds, the circuit closes and the queued message goes out.
  std::filesystem::remove(outbox);
  ASSERT_TRUE(wait_for_log(relay, "upstream=only circuit half_open -> closed")) << relay.log();
  EXPECT_EQ(delivered_files(outbox, 1, 5s), 1u) << relay.log();

  auto log = relay.log();
  std::vector<std::string> sequence{"closed -> open", "open -> half_open", "half_open -> open", "open -> half_open",
                                    "half_open -> closed"};
  size_t pos = 0;
  for (const auto& step : sequence) {
    pos = log.find("upstream=only circuit " + step, pos);
    ASSERT_NE(pos, std::string::npos) << "missing, or out of order: " << step << "\n" << log;
    ++pos;
  }
}

// The upstream is back but the circuit would stay open for five minutes: the administrator flushes the queue,
// the circuit closes at once and every queued message goes out, instead of being deferred again.
TEST(PolicyCircuitBreaker, QueueFlushClosesAnOpenCircuitAtOnce) {
  TempDir upstreams;
  auto outbox = upstreams.path() / "out";
  upstreams.write("out", "a file in the way: every delivery fails");
  RelayOptions o;
  o.upstream = "provider = \"file\"\nname = \"only\"\n\n[config]\ndir = \"" + outbox.string() +
               "\"\n\n[failover_policy.circuit_breaker]\nfailure_threshold = 2\nrecovery_timeout = 300\n";
  Relay relay(o);
  add_to_table(relay, "[queue]", "retry_schedule = [3600]");
  ASSERT_TRUE(relay.start()) << relay.log();
  // Two failures open the circuit; the third message is sent only then (sent together, all three could be on their
  // way before the first failure counts), so it meets the open circuit.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_for_log(relay, "upstream=only circuit closed -> open (2 consecutive failures")) << relay.log();
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  ASSERT_TRUE(wait_for_log(relay, "No upstream available now")) << relay.log();

  std::filesystem::remove(outbox);
  auto flushed = run({smarthost_bin().string(), "queue", "flush", "--config", relay.config_path().string()}, "", 20s);
  ASSERT_EQ(flushed.exit_code, 0) << flushed.out << flushed.err;
  EXPECT_TRUE(wait_for_log(relay, "upstream=only circuit open -> closed (queue flushed by an administrator)"))
      << relay.log();
  EXPECT_EQ(delivered_files(outbox, 3, 10s), 3u) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
