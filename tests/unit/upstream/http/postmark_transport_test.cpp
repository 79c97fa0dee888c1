// The Postmark transport against the fake Postmark: /email fields and config mapping, /email/batch with
// per-element ErrorCode, deliver_batch over several messages, and failures.
#include "upstream/http/postmark_transport.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/unit/upstream/http/corpus.h"
#include "tests/unit/upstream/http/transport_harness.h"

namespace smarthost::upstream::http {
namespace {

using test::FakeKind;
using test::FakeProvider;
namespace json = boost::json;

json::value body_of(const test::FakeRecord& record) { return json::parse(record.exchange.body); }

class PostmarkTransportTest : public ::testing::Test {
 protected:
  PostmarkTransport make(const conf::Upstream& u, HttpTransportOptions options = {}) {
    return PostmarkTransport(u, conf::SecurityConfig{}, conf::TestModeConfig{}, h_.client, std::move(options));
  }
  test::TransportHarness h_;
  FakeProvider fake_{FakeKind::postmark};
};

TEST_F(PostmarkTransportTest, SendsOneMessageWithEveryConfiguredField) {
  auto u = test::upstream_for(fake_);
  u.common.reply_to = "support@yourdomain.com";
  auto& c = std::get<conf::PostmarkConfig>(u.config);
  c.track_opens = true;
  c.track_links = "HtmlOnly";
  c.message_stream = "broadcast";
  c.tag = "chatapi-notifications";
  c.metadata = {{"environment", "production"}, {"service", "chatapi"}};
  auto transport = make(u);
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("html_inline_images.eml"),
                                               {"reader@example.net", "copy@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_TRUE(result.remote_id.starts_with("pm-"));
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(fake_.records()[0].exchange.target, "/email");
  EXPECT_EQ(test::problems_of(fake_), "");
  auto body = body_of(fake_.records()[0]);
  EXPECT_EQ(body.at("From"), "News <news@example.com>");
  EXPECT_EQ(body.at("To"), "reader@example.net");
  EXPECT_EQ(body.at("Bcc"), "copy@example.net");
  EXPECT_FALSE(body.as_object().contains("Cc"));
  EXPECT_EQ(body.at("ReplyTo"), "support@yourdomain.com");
  EXPECT_EQ(body.at("Subject"), "Newsletter with a logo");
  EXPECT_EQ(body.at("TextBody"), "Our logo is in the HTML version.");
  EXPECT_EQ(body.at("HtmlBody"), "<html><body><p>Hi!</p><img src=\"cid:logo@example.com\"></body></html>");
  EXPECT_EQ(body.at("Tag"), "chatapi-notifications");
  EXPECT_EQ(json::serialize(body.at("Metadata")), R"({"environment":"production","service":"chatapi"})");
  EXPECT_EQ(body.at("MessageStream"), "broadcast");
  EXPECT_EQ(body.at("TrackOpens"), true);
  EXPECT_EQ(body.at("TrackLinks"), "HtmlOnly");
  ASSERT_EQ(body.at("Attachments").as_array().size(), 1u);
  EXPECT_EQ(body.at("Attachments").at(0).at("Name"), "logo.png");
  EXPECT_EQ(body.at("Attachments").at(0).at("ContentType"), "image/png");
  EXPECT_EQ(body.at("Attachments").at(0).at("ContentID"), "cid:logo@example.com");
}

TEST_F(PostmarkTransportTest, DefaultsAndHeaders) {
  auto u = test::upstream_for(fake_);
  u.common.endpoint.clear();
  EXPECT_EQ(make(u).base(), "https://api.postmarkapp.com");
  auto transport = make(test::upstream_for(fake_));
  EXPECT_EQ(h_.deliver(transport, h_.spool(test::corpus_message("custom_headers.eml"), {"user@example.net"})).outcome,
            Outcome::delivered);
  EXPECT_EQ(test::problems_of(fake_), "");
  auto body = body_of(fake_.records().at(0));
  EXPECT_EQ(body.at("MessageStream"), "outbound");
  EXPECT_FALSE(body.as_object().contains("TrackOpens"));
  EXPECT_FALSE(body.as_object().contains("TrackLinks"));
  EXPECT_EQ(json::serialize(body.at("Headers")),
            R"([{"Name":"X-Campaign","Value":"spring-2024"},{"Name":"List-Unsubscribe","Value":"<mailto:unsub@example.com>"},)"
            R"({"Name":"X-SG-ID","Value":"injected"}])");
}

TEST_F(PostmarkTransportTest, ManyRecipientsGoThroughTheBatchEndpointWithPerElementErrors) {
  std::vector<std::string> recipients;
  for (int i = 0; i < 120; ++i) recipients.push_back("r" + std::to_string(i) + "@example.net");
  // Every recipient is Bcc (not in To): Postmark needs a To, so each gets a message of their own.
  fake_.fail_recipient("r7@example.net", 406, "You tried to send to a recipient that has been marked as inactive.");
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("bcc_only.eml"), recipients));
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(fake_.records()[0].exchange.target, "/email/batch");
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(body_of(fake_.records()[0]).as_array().size(), 120u);
  EXPECT_EQ(result.outcome, Outcome::permanent) << "one refused, none temporary";
  for (int i = 0; i < 120; ++i) {
    auto expected = i == 7 ? Outcome::permanent : Outcome::delivered;
    EXPECT_EQ(result.recipients[i].outcome, expected) << i;
  }
  EXPECT_EQ(result.recipients[7].reply,
            "Postmark ErrorCode 406: You tried to send to a recipient that has been marked as inactive.");
}

TEST_F(PostmarkTransportTest, FiftyPerFieldAtMost) {
  std::string message = "From: a@example.com\r\nTo: ";
  std::vector<std::string> recipients;
  for (int i = 0; i < 60; ++i) {
    recipients.push_back("to" + std::to_string(i) + "@example.net");
    message += (i ? ", " : "") + recipients.back();
  }
  message += "\r\nSubject: many\r\n\r\nbody\r\n";
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(message, recipients));
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_EQ(test::problems_of(fake_), "");
  auto batch = body_of(fake_.records().at(0)).as_array();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(std::count(batch[0].at("To").as_string().begin(), batch[0].at("To").as_string().end(), '@'), 50);
  EXPECT_EQ(std::count(batch[1].at("To").as_string().begin(), batch[1].at("To").as_string().end(), '@'), 10);
}

TEST_F(PostmarkTransportTest, DeliverBatchSendsSeveralMessagesInOneCall) {
  auto transport = make(test::upstream_for(fake_));
  fake_.fail_recipient("bounce@example.net", 300, "Invalid 'To' address: 'bounce@example.net'.");
  std::vector<OutboundMessage> batch{h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}),
                                     h_.spool(test::corpus_message("nested.eml"), {"one@example.net", "two@example.net"}),
                                     h_.spool(test::corpus_message("bcc_only.eml"), {"bounce@example.net"})};
  auto results = h_.deliver_batch(transport, batch);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(fake_.records()[0].exchange.target, "/email/batch");
  EXPECT_EQ(body_of(fake_.records()[0]).as_array().size(), 3u);
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(results[0].outcome, Outcome::delivered);
  EXPECT_EQ(results[1].outcome, Outcome::delivered);
  EXPECT_EQ(results[1].recipients.size(), 2u);
  EXPECT_EQ(results[2].outcome, Outcome::permanent);
  EXPECT_NE(results[2].reply.find("ErrorCode 300"), std::string::npos);
  EXPECT_NE(results[0].remote_id, results[1].remote_id);
}

// A batch of large messages is built and sent a round at a time, as many messages as the payload budget holds.
TEST_F(PostmarkTransportTest, DeliverBatchSendsLargeMessagesInRoundsThatFitThePayloadBudget) {
  std::string body(100 * 1024, 'x');
  std::string message = "From: a@example.com\r\nTo: bob@example.net\r\nSubject: big\r\n\r\n" + body + "\r\n";
  HttpTransportOptions options;
  // Each message's estimate is 3 x 100 KiB + 256 KiB: two fit in 1.2 MiB, three do not.
  options.budget = std::make_shared<PayloadBudget>(1200 * 1024);
  auto budget = options.budget;
  auto transport = make(test::upstream_for(fake_), std::move(options));
  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(h_.spool(message, {"bob@example.net"}));
  auto results = h_.deliver_batch(transport, batch);
  ASSERT_EQ(results.size(), 5u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  ASSERT_EQ(fake_.request_count(), 3u);
  auto records = fake_.records();
  EXPECT_EQ(records[0].exchange.target, "/email/batch");
  EXPECT_EQ(body_of(records[0]).as_array().size(), 2u);
  EXPECT_EQ(body_of(records[1]).as_array().size(), 2u);
  EXPECT_EQ(records[2].exchange.target, "/email");
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(budget->in_use(), 0u);
}

// When a round fails, the later rounds are not attempted: their messages wait for the next try.
TEST_F(PostmarkTransportTest, AFailedRoundStopsTheRestOfTheBatch) {
  std::string message = "From: a@example.com\r\nTo: bob@example.net\r\nSubject: big\r\n\r\n" +
                        std::string(100 * 1024, 'x') + "\r\n";
  HttpTransportOptions options;
  options.budget = std::make_shared<PayloadBudget>(1200 * 1024);
  auto transport = make(test::upstream_for(fake_), std::move(options));
  fake_.push_answer(fake_.server_error());
  std::vector<OutboundMessage> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(h_.spool(message, {"bob@example.net"}));
  auto results = h_.deliver_batch(transport, batch);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(fake_.request_count(), 1u);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::temporary) << r.reply;
  EXPECT_NE(results[4].reply.find("not attempted"), std::string::npos) << results[4].reply;
}

TEST_F(PostmarkTransportTest, FailuresAreClassified) {
  auto transport = make(test::upstream_for(fake_));
  fake_.push_answer(fake_.bad_credentials());
  auto refused = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_EQ(refused.outcome, Outcome::upstream_refused);
  EXPECT_NE(refused.reply.find("HTTP 401: The Server Token"), std::string::npos) << refused.reply;
  fake_.push_answer(fake_.rejected("Invalid email request"));
  EXPECT_EQ(h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"})).outcome,
            Outcome::permanent);
  fake_.push_answer(fake_.server_error());
  EXPECT_EQ(h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"})).outcome,
            Outcome::temporary);
  fake_.push_answer(fake_.throttled(10));
  auto throttled = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_TRUE(throttled.throttled);
  EXPECT_TRUE(throttled.retry_after.has_value());
  // A batch whose answer is not one element per message: nobody knows what was sent, so try again later.
  test::FakeAnswer garbled;
  garbled.body = "[]";
  fake_.push_answer(garbled);
  auto unclear = h_.deliver(transport, h_.spool(test::corpus_message("bcc_only.eml"), {"x@example.net", "y@example.net"}));
  EXPECT_EQ(unclear.outcome, Outcome::temporary);
}

TEST_F(PostmarkTransportTest, OversizeBodiesAreRefusedBeforeSending) {
  std::string message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: big\r\n\r\n" +
                        std::string(6u << 20, 'x') + "\r\n";
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(message, {"b@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::permanent);
  EXPECT_NE(result.reply.find("5 MB"), std::string::npos) << result.reply;
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(PostmarkTransportTest, RefusesUnknownTrackLinks) {
  auto u = test::upstream_for(fake_);
  std::get<conf::PostmarkConfig>(u.config).track_links = "Always";
  EXPECT_THROW(make(u), std::invalid_argument);
}

}  // namespace
}  // namespace smarthost::upstream::http
