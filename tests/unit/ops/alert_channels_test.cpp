// Alert channels and the notifier: the webhook's JSON and its retries (against a local HTTP server), the alert
// mail handed to the delivery path, and notices fanned out to every channel.
#include "ops/alert_channels.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "ops/alert_notifier.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/ops/ops_fakes.h"
#include "upstream/http/http_client.h"

namespace smarthost::ops {
namespace {

using namespace std::chrono_literals;

struct Io {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~Io() {
    work.reset();
    io.stop();
    thread.join();
  }
};

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

AlertNotice firing(std::string key = "upstream_down:mailgun0") {
  AlertNotice n;
  n.key = std::move(key);
  n.rule = "upstream_down";
  n.upstream = "mailgun0";
  n.summary = "upstream mailgun0 is down: its health checks fail";
  n.since = std::chrono::system_clock::from_time_t(1714564800);
  return n;
}

WebhookRetry quick() {
  WebhookRetry r;
  r.attempts = 4;
  r.first_delay = 10ms;
  r.timeout = 2s;
  return r;
}

TEST(WebhookChannel, PostsJsonWithATextField) {
  auto body = webhook_body(firing(), "[smarthost relay.test] FIRING upstream_down:mailgun0: down", "relay.test",
                           std::chrono::system_clock::from_time_t(1714564860));
  auto v = boost::json::parse(body).as_object();
  EXPECT_EQ(v.at("text").as_string(), "[smarthost relay.test] FIRING upstream_down:mailgun0: down");
  EXPECT_EQ(v.at("state").as_string(), "firing");
  EXPECT_EQ(v.at("alert").as_string(), "upstream_down:mailgun0");
  EXPECT_EQ(v.at("upstream").as_string(), "mailgun0");
  EXPECT_EQ(v.at("since").as_string(), "2024-05-01T12:00:00Z");
  EXPECT_EQ(v.at("time").as_string(), "2024-05-01T12:01:00Z");
  EXPECT_EQ(v.at("host").as_string(), "relay.test");
}

TEST(WebhookChannel, RetriesServerErrorsWithBackoff) {
  std::atomic<int> requests{0};
  smarthost::test::FakeHttpServer receiver([&](const smarthost::test::HttpExchange&) {
    int n = ++requests;
    return smarthost::test::FakeAnswer{n <= 2 ? 503 : 200, {}, "ok"};
  });
  Io io;
  auto client = std::make_shared<upstream::http::HttpClient>(io.io.get_executor());
  auto channel = std::make_shared<WebhookChannel>(io.io.get_executor(), client, receiver.base_url() + "/hook",
                                                  "relay.test", quick());
  channel->send(firing(), "the text");
  ASSERT_TRUE(wait_for([&] { return channel->tally().sent.value() == 1; }));
  EXPECT_EQ(requests.load(), 3);
  EXPECT_EQ(channel->tally().failed.value(), 0u);
  auto exchanges = receiver.exchanges();
  ASSERT_EQ(exchanges.size(), 3u);
  EXPECT_EQ(exchanges[2].method, "POST");
  EXPECT_EQ(exchanges[2].target, "/hook");
  EXPECT_EQ(exchanges[2].header("content-type"), "application/json");
  EXPECT_EQ(boost::json::parse(exchanges[2].body).as_object().at("text").as_string(), "the text");
}

TEST(WebhookChannel, GivesUpOnAClientErrorAtOnce) {
  smarthost::test::FakeHttpServer receiver(
      [](const smarthost::test::HttpExchange&) { return smarthost::test::FakeAnswer{404, {}, "no such hook"}; });
  Io io;
  auto client = std::make_shared<upstream::http::HttpClient>(io.io.get_executor());
  auto channel = std::make_shared<WebhookChannel>(io.io.get_executor(), client, receiver.base_url(), "relay.test",
                                                  quick());
  channel->send(firing(), "x");
  ASSERT_TRUE(wait_for([&] { return channel->tally().failed.value() == 1; }));
  EXPECT_EQ(receiver.exchanges().size(), 1u);
}

TEST(WebhookChannel, GivesUpAfterTheLastAttempt) {
  smarthost::test::FakeHttpServer receiver(
      [](const smarthost::test::HttpExchange&) { return smarthost::test::FakeAnswer{500, {}, "down"}; });
  Io io;
  auto client = std::make_shared<upstream::http::HttpClient>(io.io.get_executor());
  auto channel = std::make_shared<WebhookChannel>(io.io.get_executor(), client, receiver.base_url(), "relay.test",
                                                  quick());
  channel->send(firing(), "x");
  ASSERT_TRUE(wait_for([&] { return channel->tally().failed.value() == 1; }));
  EXPECT_EQ(receiver.exchanges().size(), 4u);
}

// Reads each message's content while it is being delivered (the channel removes the file afterwards).
class ReadingTransport : public upstream::Transport {
 public:
  boost::asio::awaitable<upstream::DeliveryResult> deliver(const upstream::OutboundMessage& m) override {
    std::ifstream in(m.content_path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    {
      std::lock_guard lock(mutex);
      seen.push_back(m);
      contents.push_back(content.str());
    }
    upstream::DeliveryResult r;
    r.outcome = upstream::Outcome::delivered;
    for (const auto& rcpt : m.envelope.recipients) r.recipients.push_back({rcpt.address, r.outcome, "250 ok"});
    co_return r;
  }
  const std::string& name() const override { return name_; }
  std::mutex mutex;
  std::vector<upstream::OutboundMessage> seen;
  std::vector<std::string> contents;

 private:
  std::string name_ = "router";
};

TEST(EmailChannel, HandsTheAlertMailToTheDeliveryPath) {
  smarthost::test::TempDir dir;
  Io io;
  ReadingTransport transport;
  auto channel = std::make_shared<EmailChannel>(io.io.get_executor(), [&] { return &transport; },
                                                std::vector<std::string>{"ops@example.com", "oncall@example.com"},
                                                "relay@example.com", "relay.test", dir.path() / "alerts");
  channel->send(firing(), "[smarthost relay.test] FIRING upstream_down:mailgun0: down");
  ASSERT_TRUE(wait_for([&] { return channel->tally().sent.value() == 1; }));
  std::lock_guard lock(transport.mutex);
  ASSERT_EQ(transport.seen.size(), 1u);
  const auto& m = transport.seen[0];
  EXPECT_TRUE(m.queue_id.starts_with("alert-")) << m.queue_id << " (so the recorder never counts it)";
  EXPECT_EQ(m.envelope.mail_from, "relay@example.com");
  ASSERT_EQ(m.envelope.recipients.size(), 2u);
  EXPECT_EQ(m.envelope.recipients[1].address, "oncall@example.com");
  const auto& content = transport.contents[0];
  EXPECT_EQ(m.size, content.size());
  EXPECT_NE(content.find("From: smarthost <relay@example.com>\r\n"), std::string::npos) << content;
  EXPECT_NE(content.find("To: ops@example.com, oncall@example.com\r\n"), std::string::npos) << content;
  EXPECT_NE(content.find("Subject: [smarthost relay.test] FIRING: upstream_down:mailgun0\r\n"), std::string::npos)
      << content;
  EXPECT_NE(content.find("Auto-Submitted: auto-generated\r\n"), std::string::npos);
  EXPECT_NE(content.find("\r\n\r\n[smarthost relay.test] FIRING upstream_down:mailgun0: down\r\n"), std::string::npos);
  EXPECT_TRUE(wait_for([&] { return std::filesystem::is_empty(dir.path() / "alerts"); })) << "file left behind";
}

TEST(EmailChannel, NoDeliveryPathCountsAFailure) {
  smarthost::test::TempDir dir;
  Io io;
  auto channel = std::make_shared<EmailChannel>(io.io.get_executor(), [] { return nullptr; },
                                                std::vector<std::string>{"ops@example.com"}, "relay@example.com",
                                                "relay.test", dir.path());
  channel->send(firing(), "x");
  ASSERT_TRUE(wait_for([&] { return channel->tally().failed.value() == 1; }));
}

class RecordingChannel : public AlertChannel {
 public:
  std::string_view kind() const override { return "test"; }
  void send(const AlertNotice& notice, const std::string& text) override {
    notices.push_back(notice);
    texts.push_back(text);
  }
  std::vector<AlertNotice> notices;
  std::vector<std::string> texts;
};

TEST(AlertNotifier, EvaluatesAndFansOutToEveryChannel) {
  Io io;
  AlertInputs inputs;
  auto first = std::make_shared<RecordingChannel>();
  auto second = std::make_shared<RecordingChannel>();
  AlertThresholds t;
  t.cooldown = 0s;
  t.queue_size = 10;
  auto notifier = std::make_shared<AlertNotifier>(io.io.get_executor(), t, [&] { return inputs; },
                                                  std::vector<std::shared_ptr<AlertChannel>>{first, second},
                                                  "relay.test");
  EXPECT_TRUE(notifier->evaluate().empty());
  inputs.queue_size = 11;
  ASSERT_EQ(notifier->evaluate().size(), 1u);
  ASSERT_EQ(notifier->active().size(), 1u);
  inputs.queue_size = 0;
  ASSERT_EQ(notifier->evaluate().size(), 1u);
  ASSERT_EQ(first->texts.size(), 2u);
  EXPECT_EQ(first->texts[0], "[smarthost relay.test] FIRING queue_size: 11 messages in the queue (threshold 10)");
  EXPECT_EQ(first->texts[1],
            "[smarthost relay.test] RESOLVED queue_size: recovered after 0s (was: 11 messages in the queue (threshold "
            "10))");
  EXPECT_EQ(second->notices.size(), 2u);
  EXPECT_TRUE(notifier->active().empty());
}

}  // namespace
}  // namespace smarthost::ops
