// Scenario: `smarthost send-test --to ADDR` sends one message through the running relay and prints its journey:
// the submission with its queue id, then its time in the queue, then delivered. Without a relay it says so.
#include <gtest/gtest.h>

#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(ValidateSendTest, FollowsOneMessageThroughTheRunningRelay) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  auto r = run({smarthost_bin().string(), "send-test", "--config", relay.config_path().string(), "--to",
                "ops@example.net", "--timeout", "20"},
               "", 30s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << relay.log();
  EXPECT_NE(r.out.find("submitting to 127.0.0.1:" + std::to_string(relay.port())), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accepted: 250"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("delivered"), std::string::npos) << r.out;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  std::string eml = read_file(relay.delivered().front());
  EXPECT_NE(eml.find("Subject: smarthost send-test"), std::string::npos) << eml;
  EXPECT_NE(read_file(relay.delivered(".json").front()).find("ops@example.net"), std::string::npos);
}

TEST(ValidateSendTest, SaysSoWhenNoRelayRuns) {
  Relay relay;  // configured, not started
  auto r = run({smarthost_bin().string(), "send-test", "--config", relay.config_path().string(), "--to",
                "ops@example.net", "--timeout", "5"},
               "", 30s);
  EXPECT_EQ(r.exit_code, 75) << r.out << r.err;
  EXPECT_NE(r.out.find("is the relay running?"), std::string::npos) << r.out;
}

TEST(ValidateSendTest, NeedsARecipient) {
  auto r = run({smarthost_bin().string(), "send-test"}, "", 10s);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--to ADDR is required"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smarthost::test
