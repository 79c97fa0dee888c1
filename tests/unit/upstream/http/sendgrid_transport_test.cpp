// The SendGrid transport against the fake SendGrid: personalizations from the envelope, the configured fields,
// sandbox mode, header injection, rate limits and failures.
#include "upstream/http/sendgrid_transport.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "tests/unit/upstream/http/corpus.h"
#include "tests/unit/upstream/http/transport_harness.h"

namespace smarthost::upstream::http {
namespace {

using namespace std::chrono_literals;
using test::FakeKind;
using test::FakeProvider;
namespace json = boost::json;

json::value body_of(const test::FakeRecord& record) { return json::parse(record.exchange.body); }

class SendgridTransportTest : public ::testing::Test {
 protected:
  SendgridTransport make(const conf::Upstream& u, HttpTransportOptions options = {}, conf::TestModeConfig tm = {}) {
    return SendgridTransport(u, conf::SecurityConfig{}, tm, h_.client, std::move(options));
  }
  test::TransportHarness h_;
  FakeProvider fake_{FakeKind::sendgrid};
};

TEST_F(SendgridTransportTest, BuildsPersonalizationsFromTheEnvelope) {
  auto transport = make(test::upstream_for(fake_));
  auto message = h_.spool(test::corpus_message("plain.eml"),
                          {"bob@example.net", "carol@example.org", "dave@example.net", "hidden@example.net",
                           "BOB@example.net"});
  auto result = h_.deliver(transport, message);
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_TRUE(result.remote_id.starts_with("sg-")) << "the id comes from X-Message-Id";
  for (const auto& r : result.recipients) EXPECT_EQ(r.outcome, Outcome::delivered) << r.address;
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_FALSE(fake_.records()[0].exchange.body_was_gzip) << "compression is for the accounts that have it";
  auto body = body_of(fake_.records()[0]);
  EXPECT_EQ(json::serialize(body.at("personalizations")),
            R"([{"to":[{"email":"bob@example.net","name":"Bob"},{"email":"carol@example.org"}],)"
            R"("cc":[{"email":"dave@example.net","name":"Dave  the Boss"}],"bcc":[{"email":"hidden@example.net"}]}])");
  EXPECT_EQ(json::serialize(body.at("from")), R"({"email":"alice@example.com","name":"Alice Example"})");
  EXPECT_EQ(body.at("subject"), "Quarterly report");
  EXPECT_EQ(body.at("content").at(0).at("type"), "text/plain");
  EXPECT_EQ(body.at("content").at(0).at("value"), "Hello Bob,\n\nthe report is attached in spirit.\n\n-- \nAlice\n");
  EXPECT_FALSE(body.as_object().contains("mail_settings"));
}

TEST_F(SendgridTransportTest, MapsEveryConfigKey) {
  auto u = test::upstream_for(fake_);
  u.common.from_email = "noreply@yourdomain.com";
  u.common.from_name = "Your Service";
  u.common.reply_to = "support@yourdomain.com";
  u.common.from_mode = conf::FromMode::always;
  auto& c = std::get<conf::SendgridConfig>(u.config);
  c.template_id = "d-1234567890abcdef";
  c.categories = {"chatapi", "notifications"};
  c.custom_args = {{"environment", "production"}, {"service", "chatapi"}};
  c.tracking_settings.click_enable = true;
  c.tracking_settings.click_enable_text = false;
  c.tracking_settings.open_enable = true;
  c.tracking_settings.open_substitution_tag = "%open_track%";
  c.tracking_settings.subscription_enable = true;
  c.tracking_settings.subscription_text = "Unsubscribe";
  c.tracking_settings.subscription_html = "<a href=\"%unsubscribe%\">Unsubscribe</a>";
  auto transport = make(u);
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("custom_headers.eml"), {"user@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_EQ(test::problems_of(fake_), "");
  auto body = body_of(fake_.records().at(0));
  EXPECT_EQ(json::serialize(body.at("from")), R"({"email":"noreply@yourdomain.com","name":"Your Service"})");
  EXPECT_EQ(json::serialize(body.at("reply_to")), R"({"email":"support@yourdomain.com"})");
  EXPECT_EQ(body.at("template_id"), "d-1234567890abcdef");
  EXPECT_EQ(json::serialize(body.at("categories")), R"(["chatapi","notifications"])");
  EXPECT_EQ(json::serialize(body.at("custom_args")), R"({"environment":"production","service":"chatapi"})");
  EXPECT_EQ(json::serialize(body.at("tracking_settings")),
            R"({"click_tracking":{"enable":true,"enable_text":false},)"
            R"("open_tracking":{"enable":true,"substitution_tag":"%open_track%"},)"
            R"("subscription_tracking":{"enable":true,"text":"Unsubscribe","html":"<a href=\"%unsubscribe%\">Unsubscribe</a>"}})");
  // Custom headers pass; control headers, DKIM-Signature, Received and x-sg-* do not.
  EXPECT_EQ(json::serialize(body.at("headers")),
            R"({"X-Campaign":"spring-2024","List-Unsubscribe":"<mailto:unsub@example.com>"})");
}

TEST_F(SendgridTransportTest, TestModeUsesTheSandbox) {
  conf::TestModeConfig tm;
  tm.enabled = true;
  auto transport = make(test::upstream_for(fake_), {}, tm);
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  EXPECT_EQ(fake_.records().at(0).status, 200);
  EXPECT_EQ(body_of(fake_.records().at(0)).at("mail_settings").at("sandbox_mode").at("enable"), true);
}

TEST_F(SendgridTransportTest, BccOnlyRecipientsGetAPersonalizationEach) {
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("bcc_only.eml"),
                                               {"hidden@example.net", "other@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(json::serialize(body_of(fake_.records().at(0)).at("personalizations")),
            R"([{"to":[{"email":"hidden@example.net"}]},{"to":[{"email":"other@example.net"}]}])");
}

TEST_F(SendgridTransportTest, RefusesAnEncodedHeaderInjection) {
  auto transport = make(test::upstream_for(fake_));
  // "Hi\r\nBcc: victim@example.com" hidden in an encoded word.
  std::string message = "From: a@example.com\r\nTo: b@example.net\r\n"
                        "Subject: =?UTF-8?B?SGkNCkJjYzogdmljdGltQGV4YW1wbGUuY29t?=\r\n\r\nbody\r\n";
  auto result = h_.deliver(transport, h_.spool(message, {"b@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::permanent);
  EXPECT_NE(result.reply.find("Subject contains CR, LF or NUL"), std::string::npos) << result.reply;
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(SendgridTransportTest, RefusesAnInjectedAttachmentName) {
  auto transport = make(test::upstream_for(fake_));
  // filename*= decodes to "a.txt\r\nBcc: victim@example.com".
  std::string message = "From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
                        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
                        "--b\r\nContent-Type: text/plain\r\n"
                        "Content-Disposition: attachment; filename*=UTF-8''a.txt%0D%0ABcc%3A%20victim%40example.com\r\n\r\n"
                        "x\r\n--b--\r\n";
  auto result = h_.deliver(transport, h_.spool(message, {"b@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::permanent) << result.reply;
  EXPECT_NE(result.reply.find("file name contains CR, LF or NUL"), std::string::npos) << result.reply;
  EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(SendgridTransportTest, NoSenderAnywhereIsPermanent) {
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool("To: b@example.net\r\nSubject: x\r\n\r\nbody\r\n", {"b@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::permanent);
  EXPECT_NE(result.reply.find("no From"), std::string::npos);
  auto u = test::upstream_for(fake_);
  u.common.from_email = "fallback@example.com";
  auto with_default = make(u);
  EXPECT_EQ(h_.deliver(with_default, h_.spool("To: b@example.net\r\nSubject: x\r\n\r\nbody\r\n", {"b@example.net"})).outcome,
            Outcome::delivered);
  EXPECT_EQ(body_of(fake_.records().at(0)).at("from").at("email"), "fallback@example.com");
}

TEST_F(SendgridTransportTest, RateLimitResetBecomesRetryAfter) {
  auto transport = make(test::upstream_for(fake_));
  fake_.push_answer(fake_.throttled(60));
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::temporary);
  EXPECT_TRUE(result.throttled);
  ASSERT_TRUE(result.retry_after);
  EXPECT_GT(*result.retry_after, std::chrono::system_clock::now() + 50s);
  EXPECT_EQ(result.reply, "HTTP 429: too many requests");
}

TEST_F(SendgridTransportTest, FailuresAreClassified) {
  auto transport = make(test::upstream_for(fake_));
  fake_.push_answer(fake_.bad_credentials());
  EXPECT_EQ(h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"})).outcome,
            Outcome::upstream_refused);
  fake_.push_answer(fake_.rejected("Invalid type. Expected: string"));
  auto rejected = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_EQ(rejected.outcome, Outcome::permanent);
  EXPECT_EQ(rejected.reply, "HTTP 400: Invalid type. Expected: string (content)");
  fake_.push_answer(fake_.server_error());
  auto busy = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"}));
  EXPECT_EQ(busy.outcome, Outcome::temporary);
  EXPECT_TRUE(busy.upstream_unhealthy);
}

TEST_F(SendgridTransportTest, SplitsOverAThousandRecipients) {
  std::vector<std::string> recipients;
  for (int i = 0; i < 1001; ++i) recipients.push_back("r" + std::to_string(i) + "@example.net");
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), recipients));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  EXPECT_EQ(fake_.request_count(), 2u);
  EXPECT_EQ(test::problems_of(fake_), "");
}

TEST_F(SendgridTransportTest, GzipBodiesWhenEnabled) {
  auto upstream = test::upstream_for(fake_);
  std::get<conf::SendgridConfig>(upstream.config).compress_requests = true;  // config.compress_requests = true
  auto transport = make(upstream);
  EXPECT_EQ(h_.deliver(transport, h_.spool(test::corpus_message("plain.eml"), {"bob@example.net"})).outcome,
            Outcome::delivered);
  EXPECT_TRUE(fake_.records().at(0).exchange.body_was_gzip);
  EXPECT_EQ(test::problems_of(fake_), "");
}

}  // namespace
}  // namespace smarthost::upstream::http
