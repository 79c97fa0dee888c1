// Scenario: server.delivery_mode = "passthrough" through `smarthost serve` and a scriptable SMTP upstream. The
// client's end-of-data reply is the upstream's verdict: 250 once delivered, the upstream's 5xx text for a
// permanent refusal, 451 4.4.1 for a temporary failure and for an upstream slower than the deadline. Nothing is
// left in the queue either way.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/policy_submit.h"
#include "tests/support/relay.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class QueuePassthrough : public ::testing::Test {
 protected:
  void SetUp() override {
    // Message 2 is refused for good at RCPT, message 3 for now at MAIL, message 4 hangs past the deadline.
    fake = std::make_unique<FakeSmtpServer>(peer.path(), R"({"rules": [
        {"cmd": "RCPT", "match": "nobody@", "reply": "550 5.1.1 <nobody@example.net>: Recipient address rejected"},
        {"cmd": "MAIL", "message": 3, "reply": "451 4.3.0 Server busy"},
        {"cmd": "DATA_END", "message": 4, "delay": 4}]})");
    RelayOptions o;
    o.upstream = "provider = \"smtp\"\nname = \"fake\"\n[config]\nhost = \"127.0.0.1\"\nport = " +
                 std::to_string(fake->port()) + "\n[options]\nretry_attempts = 0\ntimeout = 20\n";
    // command_timeout bounds the wait for the upstream's verdict (a little under it).
    o.server_extra = "delivery_mode = \"passthrough\"\ncommand_timeout = 3\n";
    relay = std::make_unique<Relay>(o);
    if (!relay->start()) {
      if (relay->log().find("is not available in this build") != std::string::npos)
        GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
      FAIL() << relay->log();
    }
  }

  bool nothing_queued() const {
    std::error_code ec;
    for (const char* folder : {"active", "hold", "failed", "tmp"})
      if (!fs::is_empty(relay->queue_dir() / folder, ec) || ec) return false;
    return true;
  }

  TempDir peer;
  std::unique_ptr<FakeSmtpServer> fake;
  std::unique_ptr<Relay> relay;
};

TEST_F(QueuePassthrough, TheUpstreamsVerdictIsTheReply) {
  // 1: delivered before the client hears 250.
  auto sent = submit(relay->port(), Letter{});
  EXPECT_EQ(reply_code(sent.end), 250) << sent.end;
  EXPECT_NE(sent.end.find("delivered as"), std::string::npos) << sent.end;
  ASSERT_EQ(fake->messages().size(), 1u) << "the upstream had the message before the 250";
  EXPECT_NE(fake->messages()[0].data.find("Subject: policy test"), std::string::npos);
  EXPECT_TRUE(nothing_queued());
  EXPECT_NE(relay->log().find("passthrough upstream=fake outcome=delivered"), std::string::npos) << relay->log();

  // 2: a permanent refusal comes back as the upstream said it.
  Letter refused;
  refused.to = {"nobody@example.net"};
  sent = submit(relay->port(), refused);
  EXPECT_EQ(sent.end.substr(0, 9), "550 5.1.1") << sent.end;
  EXPECT_NE(sent.end.find("Recipient address rejected"), std::string::npos) << sent.end;
  EXPECT_TRUE(nothing_queued());

  // 3: a temporary failure is 451 4.4.1 to the client, and nothing is kept for a later try.
  sent = submit(relay->port(), Letter{});
  EXPECT_EQ(sent.end.substr(0, 9), "451 4.4.1") << sent.end;
  EXPECT_NE(sent.end.find("Server busy"), std::string::npos) << sent.end;
  EXPECT_TRUE(nothing_queued());

  // 4: an upstream slower than the deadline: 451 4.4.1 at the deadline, not when the upstream answers.
  auto started = std::chrono::steady_clock::now();
  sent = submit(relay->port(), Letter{});
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(sent.end.substr(0, 9), "451 4.4.1") << sent.end;
  EXPECT_LT(waited, 5s);
  EXPECT_GE(waited, 2s);
  EXPECT_NE(relay->log().find("no verdict within 2700ms; client told 451 4.4.1"), std::string::npos) << relay->log();

  // The relay goes on serving; the slow delivery's staged file goes away when it ends.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!nothing_queued() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(nothing_queued());
  sent = submit(relay->port(), Letter{});
  EXPECT_EQ(reply_code(sent.end), 250) << sent.end;
}

}  // namespace
}  // namespace smarthost::test
