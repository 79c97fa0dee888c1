// Scenario: [test_mode] through `smarthost serve`. test_email sends every message to one address with the
// original recipients in X-Original-To (the banner warns); skip_delivery accepts and "delivers" without sending.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

TEST(PolicyTestMode, RedirectsToTheTestAddress) {
  RelayOptions o;
  o.extra = "\n[test_mode]\nenabled = true\ntest_email = \"qa@example.test\"\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  Letter l;
  l.to = {"first@example.net", "second@example.org"};
  l.body = "Redirect me.\r\n";
  ASSERT_TRUE(submit(relay.port(), l).accepted());
  ASSERT_TRUE(relay.wait_delivered(1)) << relay.log();
  auto envelope = read_file(relay.delivered(".json").front());
  EXPECT_NE(envelope.find("\"recipients\":[\"qa@example.test\"]"), std::string::npos) << envelope;
  auto eml = read_file(relay.delivered().front());
  EXPECT_TRUE(eml.starts_with("X-Original-To: first@example.net, second@example.org\r\n")) << eml;
  EXPECT_NE(eml.find("Redirect me."), std::string::npos);
  EXPECT_NE(relay.log().find("TEST MODE IS ON"), std::string::npos);
  // The copy with the header is gone once sent; the queue is empty.
  std::this_thread::sleep_for(200ms);
  std::error_code ec;
  size_t leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(relay.queue_dir() / "test-mode", ec)) {
    (void)e;
    ++leftovers;
  }
  EXPECT_EQ(leftovers, 0u);
}

TEST(PolicyTestMode, SkipDeliverySendsNothing) {
  RelayOptions o;
  o.extra = "\n[test_mode]\nenabled = true\nskip_delivery = true\n";
  Relay relay(o);
  ASSERT_TRUE(relay.start()) << relay.log();
  ASSERT_TRUE(submit(relay.port(), Letter{}).accepted());
  bool marked = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !marked && std::chrono::steady_clock::now() < deadline;) {
    marked = relay.log().find("marked delivered without sending") != std::string::npos &&
             relay.log().find("result=delivered") != std::string::npos;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(marked) << relay.log();
  EXPECT_TRUE(relay.delivered().empty());
}

}  // namespace
}  // namespace smarthost::test
