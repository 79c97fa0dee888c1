// Scenario: queued delivery through `smarthost serve` to a scriptable SMTP upstream (fake_smtp.py): a temporary
// failure retried on queue.retry_schedule and then delivered; a permanent failure bounced to the sender with an
// RFC 3464 report through the same upstream; and a partial recipient failure (one delivered, one bounced, no
// second copy to the one delivered). Expiry after max_lifetime is in the scheduler's unit tests (a manual clock;
// the configuration's lower bound of one minute is too long here).
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/policy_submit.h"
#include "queue/file_pool.h"
#include "tests/support/relay.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

void add_to_table(const Relay& relay, const std::string& table, const std::string& line) {
  std::string cfg = read_file(relay.config_path());
  auto at = cfg.find(table + "\n");
  ASSERT_NE(at, std::string::npos);
  cfg.insert(at + table.size() + 1, line + "\n");
  std::ofstream(relay.config_path()) << cfg;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout = 15s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

class QueueDelivery : public ::testing::Test {
 protected:
  // Starts the relay in front of a fake upstream with `rules`; false (and a skip) without the smtp provider.
  bool start(const std::string& rules) {
    fake = std::make_unique<FakeSmtpServer>(peer.path(), "{\"rules\": " + rules + "}");
    RelayOptions o;
    // No retries within one attempt: the queue's retry schedule is what is under test.
    o.upstream = "provider = \"smtp\"\nname = \"fake\"\n[config]\nhost = \"127.0.0.1\"\nport = " +
                 std::to_string(fake->port()) + "\n[options]\nretry_attempts = 0\n";
    relay = std::make_unique<Relay>(o);
    add_to_table(*relay, "[queue]", "retry_schedule = [1]");
    if (relay->start()) return true;
    if (relay->log().find("is not available in this build") != std::string::npos) return false;
    ADD_FAILURE() << relay->log();
    return false;
  }

  std::vector<FakeMessage> bounces() const {
    std::vector<FakeMessage> out;
    for (auto& m : fake->messages())
      if (m.mail_from.find("<>") != std::string::npos) out.push_back(m);
    return out;
  }
  std::vector<FakeMessage> originals() const {
    std::vector<FakeMessage> out;
    for (auto& m : fake->messages())
      if (m.mail_from.find("<>") == std::string::npos) out.push_back(m);
    return out;
  }

  // Nothing queued or being written (delivered messages' files kept in tmp/ for reuse do not count).
  bool queue_empty() const {
    std::error_code ec;
    for (const char* folder : {"active", "failed", "tmp"}) {
      for (auto it = std::filesystem::directory_iterator(relay->queue_dir() / folder, ec);
           !ec && it != std::filesystem::directory_iterator(); ++it) {
        if (!queue::is_recycled_file(it->path().filename().string())) return false;
      }
      if (ec) return false;
    }
    return true;
  }

  TempDir peer;
  std::unique_ptr<FakeSmtpServer> fake;
  std::unique_ptr<Relay> relay;
};

// Checks a bounce's RFC 3464 structure; returns the delivery-status part's text.
std::string check_dsn(const FakeMessage& bounce, const std::string& failed, const std::string& status) {
  const std::string& d = bounce.data;
  EXPECT_NE(d.find("Content-Type: multipart/report"), std::string::npos) << d;
  EXPECT_NE(d.find("report-type=delivery-status"), std::string::npos) << d;
  EXPECT_NE(d.find("Auto-Submitted: auto-replied"), std::string::npos) << d;
  EXPECT_NE(d.find("Content-Type: message/delivery-status"), std::string::npos) << d;
  EXPECT_NE(d.find("Content-Type: text/rfc822-headers"), std::string::npos) << d;
  EXPECT_NE(d.find("Reporting-MTA: dns; relay.test"), std::string::npos) << d;
  EXPECT_NE(d.find("Final-Recipient: rfc822; " + failed), std::string::npos) << d;
  EXPECT_NE(d.find("Action: failed"), std::string::npos) << d;
  EXPECT_NE(d.find("Status: " + status), std::string::npos) << d;
  EXPECT_NE(d.find("Subject: policy test"), std::string::npos) << "the original headers come back\n" << d;
  EXPECT_EQ(bounce.rcpts.size(), 1u);
  if (!bounce.rcpts.empty()) {
    EXPECT_NE(bounce.rcpts[0].find("<app@example.com>"), std::string::npos);
  }
  auto at = d.find("Content-Type: message/delivery-status");
  if (at == std::string::npos) return "";
  auto end = d.find("\r\n--", at);  // the next MIME boundary
  return d.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

TEST_F(QueueDelivery, TemporaryFailureIsRetriedThenDelivered) {
  if (!start(R"([{"cmd": "MAIL", "message": 1, "reply": "451 4.3.0 Try again later"}])"))
    GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
  auto sent = submit(relay->port(), Letter{});
  ASSERT_TRUE(sent.accepted()) << sent.end;
  ASSERT_TRUE(wait_for([&] { return originals().size() == 1; })) << relay->log();
  size_t mails = 0;
  for (const auto& c : fake->commands()) mails += c.rfind("MAIL", 0) == 0;
  EXPECT_EQ(mails, 2u) << "one refused attempt, then the retry";
  EXPECT_TRUE(bounces().empty());
  EXPECT_NE(relay->log().find("4.3.0"), std::string::npos) << relay->log();
}

TEST_F(QueueDelivery, PermanentFailureBouncesToTheSender) {
  if (!start(R"([{"cmd": "RCPT", "match": "nobody@", "reply": "550 5.1.1 <nobody@example.net>: no such user"}])"))
    GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
  Letter letter;
  letter.to = {"nobody@example.net"};
  ASSERT_TRUE(submit(relay->port(), letter).accepted());
  ASSERT_TRUE(wait_for([&] { return bounces().size() == 1; })) << relay->log();
  std::string status = check_dsn(bounces()[0], "nobody@example.net", "5.1.1");
  EXPECT_NE(status.find("no such user"), std::string::npos) << status;
  EXPECT_TRUE(originals().empty());
  // Nothing left queued (so nothing more can go out), and the bounce was not bounced again.
  EXPECT_TRUE(wait_for([&] { return queue_empty(); })) << relay->log();
  EXPECT_EQ(fake->messages().size(), 1u);
}

TEST_F(QueueDelivery, PartialRecipientFailure) {
  if (!start(R"([{"cmd": "RCPT", "match": "nobody@", "reply": "550 5.1.1 no such user"}])"))
    GTEST_SKIP() << "the smtp provider is not built into smarthost yet";
  Letter letter;
  letter.to = {"ok@example.net", "nobody@example.net"};
  ASSERT_TRUE(submit(relay->port(), letter).accepted());
  ASSERT_TRUE(wait_for([&] { return bounces().size() == 1 && originals().size() == 1; })) << relay->log();
  auto delivered = originals()[0];
  ASSERT_EQ(delivered.rcpts.size(), 1u);
  EXPECT_NE(delivered.rcpts[0].find("<ok@example.net>"), std::string::npos);
  std::string status = check_dsn(bounces()[0], "nobody@example.net", "5.1.1");
  EXPECT_EQ(status.find("ok@example.net"), std::string::npos) << "only the failed recipient is reported\n"
                                                               << status;
  // Once the queue is empty nothing more goes out: ok@ got exactly one copy.
  EXPECT_TRUE(wait_for([&] { return queue_empty(); })) << relay->log();
  EXPECT_EQ(originals().size(), 1u);
  EXPECT_EQ(bounces().size(), 1u);
}

}  // namespace
}  // namespace smarthost::test
