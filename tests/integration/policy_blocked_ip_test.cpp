// Scenario: connect-time access lists through `smarthost serve`. A blocked 127.0.0.1 (even when also allowed) and
// a loopback client missing from a non-empty allow list get "554 5.7.1" at the greeting and are disconnected;
// an allowed client is served.
#include <gtest/gtest.h>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

void expect_refused(const std::string& security) {
  RelayOptions o;
  o.extra = "\n[security]\n" + security + "\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  SmtpWire wire(relay.port());
  std::string greeting = wire.reply();
  EXPECT_EQ(reply_code(greeting), 554) << greeting;
  EXPECT_NE(greeting.find("5.7.1"), std::string::npos) << greeting;
  EXPECT_TRUE(wire.closed_by_peer());
  EXPECT_NE(relay.log().find("client=127.0.0.1 refused at connect"), std::string::npos) << relay.log();
  EXPECT_TRUE(relay.delivered().empty());
}

TEST(PolicyBlockedIp, BlockedAddressIsRefusedAtConnect) { expect_refused("blocked_ips = [\"127.0.0.0/8\"]"); }

TEST(PolicyBlockedIp, BlockedWinsOverAllowed) {
  expect_refused("allowed_ips = [\"127.0.0.1\"]\nblocked_ips = [\"127.0.0.1/32\"]");
}

TEST(PolicyBlockedIp, LoopbackMissingFromAnAllowListIsRefused) {
  expect_refused("allowed_ips = [\"192.0.2.0/24\"]");
}

TEST(PolicyBlockedIp, AllowedAddressIsServed) {
  RelayOptions o;
  o.extra = "\n[security]\nallowed_ips = [\"127.0.0.1\", \"10.0.0.0/8\"]\nblocked_ips = [\"10.9.0.0/16\"]\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  auto s = submit(relay.port(), Letter{});
  EXPECT_EQ(reply_code(s.greeting), 220) << s.greeting;
  EXPECT_TRUE(s.accepted()) << s.end;
  EXPECT_TRUE(relay.wait_delivered(1)) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
