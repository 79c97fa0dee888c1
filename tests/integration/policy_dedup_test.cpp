// Scenario: dedup through `smarthost serve` with [caching] on. A client re-sending the same message (same
// Message-ID, sender, recipients and body) gets its 250 with the first queue id and the message goes out once;
// a different Message-ID is a different message.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

std::string queue_id(const std::string& reply) {
  auto at = reply.find("queued as ");
  if (at == std::string::npos) return {};
  auto id = reply.substr(at + 10);
  return id.substr(0, id.find_first_of(" \r\n"));
}

TEST(PolicyDedup, AReSentMessageIsDeliveredOnce) {
  RelayOptions o;
  o.extra = "\n[caching]\nenable_response_caching = true\ncache_ttl = 600\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  Letter l;
  l.message_id = "<order-1234@app.example.com>";
  auto first = submit(relay.port(), l);
  ASSERT_TRUE(first.accepted()) << first.end;
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  // The reply was "lost": the client sends the very same message again, on a new connection.
  auto again = submit(relay.port(), l);
  ASSERT_TRUE(again.accepted()) << again.end;
  EXPECT_EQ(queue_id(again.end), queue_id(first.end));
  EXPECT_FALSE(queue_id(first.end).empty());

  l.message_id = "<order-1235@app.example.com>";
  auto other = submit(relay.port(), l);
  ASSERT_TRUE(other.accepted());
  EXPECT_NE(queue_id(other.end), queue_id(first.end));
  ASSERT_TRUE(relay.wait_delivered(2)) << relay.log();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(relay.delivered().size(), 2u) << relay.log();
  EXPECT_NE(relay.log().find("duplicate of qid=" + queue_id(first.end)), std::string::npos) << relay.log();
}

TEST(PolicyDedup, WithoutCachingEverySubmissionCounts) {
  Relay relay;
  ASSERT_TRUE(relay.start()) << relay.log();
  Letter l;
  l.message_id = "<order-1234@app.example.com>";
  ASSERT_TRUE(submit(relay.port(), l).accepted());
  ASSERT_TRUE(submit(relay.port(), l).accepted());
  EXPECT_TRUE(relay.wait_delivered(2)) << relay.log();
}

}  // namespace
}  // namespace smarthost::test
