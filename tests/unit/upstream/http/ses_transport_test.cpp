// The SES transport against the fake SES, which recomputes every SigV4 signature: raw content, the envelope as
// Destination, configuration set and tags, session tokens, non-ASCII addresses, splitting and failures.
#include "upstream/http/ses_transport.h"

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

const std::string kMessage =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Cc: carol@example.net\r\n"
    "Bcc: secret@example.net\r\n"
    "X-SES-CONFIGURATION-SET: smuggled\r\n"
    "Subject: Hello\r\n"
    "\r\n"
    "Body.\r\n";

class SesTransportTest : public ::testing::Test {
 protected:
  SesTransport make(const conf::Upstream& u, HttpTransportOptions options = {}) {
    return SesTransport(u, conf::SecurityConfig{}, conf::TestModeConfig{}, h_.client, std::move(options));
  }
  test::TransportHarness h_;
  FakeProvider fake_{FakeKind::ses};
};

TEST_F(SesTransportTest, SendsRawContentSignedWithTheEnvelopeAsDestination) {
  auto u = test::upstream_for(fake_);
  auto& c = std::get<conf::SesConfig>(u.config);
  c.configuration_set = "chatapi-config";
  c.tags = {{"Service", "ChatAPI"}, {"Environment", "Production"}};
  c.return_path = "bounces@yourdomain.com";
  auto transport = make(u);
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net", "carol@example.net", "secret@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  EXPECT_TRUE(result.remote_id.starts_with("0100018c-"));
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(test::problems_of(fake_), "") << "the fake recomputed the signature";
  auto record = fake_.records()[0];
  auto body = body_of(record);
  EXPECT_EQ(json::serialize(body.at("Destination")),
            R"({"ToAddresses":["bob@example.net"],"CcAddresses":["carol@example.net"],"BccAddresses":["secret@example.net"]})");
  EXPECT_EQ(body.at("FromEmailAddress"), "alice@example.com");
  EXPECT_EQ(body.at("ConfigurationSetName"), "chatapi-config");
  EXPECT_EQ(body.at("FeedbackForwardingEmailAddress"), "bounces@yourdomain.com");
  EXPECT_EQ(json::serialize(body.at("EmailTags")),
            R"([{"Name":"Service","Value":"ChatAPI"},{"Name":"Environment","Value":"Production"}])");
  EXPECT_EQ(record.raw_message,
            "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nCc: carol@example.net\r\nSubject: Hello\r\n"
            "\r\nBody.\r\n");
  EXPECT_TRUE(record.exchange.header("Authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
}

TEST_F(SesTransportTest, SignsWithASessionToken) {
  test::FakeCredentials credentials;
  credentials.aws_session_token = "FQoGZXIvYXdzEBYaDEXAMPLETOKEN";
  credentials.region = "eu-west-1";
  FakeProvider with_token(FakeKind::ses, credentials);
  auto transport = make(test::upstream_for(with_token));
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::delivered);
  EXPECT_EQ(test::problems_of(with_token), "");
  EXPECT_EQ(with_token.records().at(0).exchange.header("X-Amz-Security-Token"), "FQoGZXIvYXdzEBYaDEXAMPLETOKEN");
}

TEST_F(SesTransportTest, AWrongSecretIsRefusedByTheSignatureCheck) {
  auto u = test::upstream_for(fake_);
  std::get<conf::SesConfig>(u.config).aws_secret_access_key = "not-the-secret";
  auto transport = make(u);
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::upstream_refused) << result.reply;
  EXPECT_NE(result.reply.find("SignatureDoesNotMatch"), std::string::npos) << result.reply;
  EXPECT_NE(test::problems_of(fake_).find("SignatureDoesNotMatch"), std::string::npos);
}

TEST_F(SesTransportTest, NonAsciiAddressesFailPermanentlyWithAClearReason) {
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net", "j\xC3\xB6rg@example.net"}));
  EXPECT_EQ(result.recipients[0].outcome, Outcome::delivered);
  EXPECT_EQ(result.recipients[1].outcome, Outcome::permanent);
  EXPECT_NE(result.recipients[1].reply.find("SMTPUTF8"), std::string::npos);
  EXPECT_EQ(result.outcome, Outcome::permanent);
  EXPECT_EQ(test::problems_of(fake_), "");

  std::string utf8_sender = "From: J\xC3\xB6rg <j\xC3\xB6rg@b\xC3\xBC" "cher.example>\r\nTo: bob@example.net\r\n\r\nHi\r\n";
  auto refused = h_.deliver(transport, h_.spool(utf8_sender, {"bob@example.net"}));
  EXPECT_EQ(refused.outcome, Outcome::permanent);
  EXPECT_NE(refused.reply.find("non-ASCII"), std::string::npos) << refused.reply;
  EXPECT_EQ(fake_.request_count(), 1u) << "nothing was sent for the second message";
}

TEST_F(SesTransportTest, FiftyRecipientsPerCall) {
  std::vector<std::string> recipients;
  for (int i = 0; i < 120; ++i) recipients.push_back("r" + std::to_string(i) + "@example.net");
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(kMessage, recipients));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  EXPECT_EQ(fake_.request_count(), 3u);
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(body_of(fake_.records()[2]).at("Destination").at("BccAddresses").as_array().size(), 20u);
}

TEST_F(SesTransportTest, FailuresAreClassified) {
  auto transport = make(test::upstream_for(fake_));
  fake_.push_answer(fake_.throttled(2));
  auto throttled = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(throttled.outcome, Outcome::temporary);
  EXPECT_TRUE(throttled.throttled);
  EXPECT_EQ(throttled.reply, "HTTP 429: TooManyRequestsException: Maximum sending rate exceeded.");
  fake_.push_answer(fake_.rejected("Email address is not verified. The following identities failed the check"));
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::upstream_refused);
  fake_.push_answer(fake_.rejected("Illegal header"));
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::permanent);
  fake_.push_answer(fake_.bad_credentials());
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::upstream_refused);
  fake_.push_answer(fake_.server_error());
  auto down = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(down.outcome, Outcome::temporary);
  EXPECT_TRUE(down.upstream_unhealthy);
}

TEST_F(SesTransportTest, RegionPicksTheDefaultEndpoint) {
  auto u = test::upstream_for(fake_);
  u.common.endpoint.clear();
  std::get<conf::SesConfig>(u.config).region = "eu-west-1";
  EXPECT_EQ(make(u).url(), "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails");
  std::get<conf::SesConfig>(u.config).region = "eu-west-1/evil";
  EXPECT_THROW(make(u), std::invalid_argument);
  std::get<conf::SesConfig>(u.config).region = "";
  EXPECT_THROW(make(u), std::invalid_argument);
}

TEST_F(SesTransportTest, UsesTheInjectedClockForTheSignatureDate) {
  HttpTransportOptions options;
  options.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1440938160)); };
  auto transport = make(test::upstream_for(fake_), options);
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::delivered);
  EXPECT_EQ(fake_.records().at(0).exchange.header("X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(test::problems_of(fake_), "");
}

}  // namespace
}  // namespace smarthost::upstream::http
