// Scenario: `smarthost serve` with an Amazon SES upstream (the guide's advanced example plus a session token,
// pointed at the signature-checking fake SESv2 API) sends what SMTP clients send as raw MIME: every config key
// mapped (configuration_set, tags, return_path, from_*, reply_to, region in the SigV4 scope), the envelope as the
// Destination, Bcc stripped from the raw message, from_mode both ways, the MessageId in the log, temporary answers
// retried, MessageRejected bounced to the sender, and the regional host email.<region>.amazonaws.com by default.
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/provider_e2e.h"
#include "tests/support/upstream_e2e.h"

namespace smarthost::test {
namespace {

using namespace e2e;
namespace json = boost::json;

constexpr const char* kKeyId = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kSessionToken = "FwoGZXIvYXdzEXAMPLE//session+token=";

FakeCredentials ses_credentials(const std::string& region) {
  FakeCredentials c;
  c.aws_access_key_id = kKeyId;
  c.aws_secret_access_key = kSecret;
  c.aws_session_token = kSessionToken;
  c.region = region;
  return c;
}

// The guide's "Advanced SES Options", in TOML, with the session token, endpoint and from_mode.
std::string ses_upstream(const std::string& endpoint, const std::string& from_mode,
                         const std::string& region = "us-east-1") {
  std::string out = "provider = \"ses\"\nname = \"ses-e2e\"\n\n[config]\n"
                    "aws_access_key_id = \"AKIAIOSFODNN7EXAMPLE\"\n"
                    "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\n"
                    "aws_session_token = \"FwoGZXIvYXdzEXAMPLE//session+token=\"\n"
                    "region = \"" + region + "\"\nfrom_email = \"noreply@yourdomain.com\"\n"
                    "from_name = \"Your Service\"\nreply_to = \"support@yourdomain.com\"\n"
                    "return_path = \"bounces@yourdomain.com\"\nconfiguration_set = \"chatapi-config\"\n"
                    "tags = [\n  { Name = \"Service\", Value = \"ChatAPI\" },\n"
                    "  { Name = \"Environment\", Value = \"Production\" },\n]\n"
                    "from_mode = \"" + from_mode + "\"\n";
  if (!endpoint.empty()) out += "endpoint = \"" + endpoint + "\"\n";
  out += "\n[options]\nrate_limit = 200\ntimeout = 60\nmax_send_rate = 14\n";
  return out;
}

json::object body_of(const FakeRecord& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.exchange.body, ec);
  return !ec && v.is_object() ? v.get_object() : json::object{};
}

const std::string kBody =
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\r\n"
    ".a line that starts with a dot\r\n"
    "..and one with two\r\n"
    "the end\r\n";

const std::string kMessage =
    "From: Alice Sender <alice@client.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Cc: carol@example.org\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Quarterly report\r\n"
    "Message-ID: <e2e-ses-1@client.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n" + kBody;

TEST(UpstreamSes, AdvancedConfigDeliversEveryFieldThroughServe) {
  FakeProvider api(FakeKind::ses, ses_credentials("us-east-1"));
  FakeAnswer sent;
  sent.headers = {{"Content-Type", "application/json"}};
  sent.body = R"({"MessageId":"0100018c-e2e-0001"})";
  api.push_answer(sent);
  RelayOptions o;
  o.upstream = ses_upstream(api.base_url(), "always");
  Relay relay(o);
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example",
                           {"bob@example.net", "carol@example.org", "dave@example.com"}, kMessage, "BODY=8BITMIME")
                  .accepted());
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();
  auto records = api.records();
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  // The fake recomputes the SigV4 signature (region us-east-1, service ses) and checks the session token.
  EXPECT_TRUE(r.problems.empty()) << ::testing::PrintToString(r.problems);
  EXPECT_EQ(r.exchange.method, "POST");
  EXPECT_EQ(r.exchange.target, "/v2/email/outbound-emails");
  EXPECT_TRUE(r.exchange.header("Authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"))
      << r.exchange.header("Authorization");
  EXPECT_NE(r.exchange.header("Authorization").find("/us-east-1/ses/aws4_request"), std::string::npos);
  EXPECT_EQ(r.exchange.header("X-Amz-Security-Token"), kSessionToken);
  auto body = body_of(r);
  ASSERT_FALSE(body.empty()) << r.exchange.body;

  EXPECT_EQ(body["FromEmailAddress"], json::value("noreply@yourdomain.com"));
  EXPECT_EQ(body["Destination"], json::parse(R"({"ToAddresses":["bob@example.net"],
      "CcAddresses":["carol@example.org"],"BccAddresses":["dave@example.com"]})"));
  EXPECT_EQ(body["FeedbackForwardingEmailAddress"], json::value("bounces@yourdomain.com"));
  EXPECT_EQ(body["ConfigurationSetName"], json::value("chatapi-config"));
  EXPECT_EQ(body["EmailTags"], json::parse(R"([{"Name":"Service","Value":"ChatAPI"},
      {"Name":"Environment","Value":"Production"}])"));

  // The raw message as SES gets it: Bcc gone, the identity applied, Received first, the body byte for byte.
  const std::string& raw = r.raw_message;
  EXPECT_TRUE(header_values(raw, "Bcc").empty()) << raw;
  EXPECT_EQ(header_value(raw, "From"), "Your Service <noreply@yourdomain.com>");
  EXPECT_EQ(header_values(raw, "Reply-To"), std::vector<std::string>{"support@yourdomain.com"});
  EXPECT_EQ(header_value(raw, "To"), "Bob <bob@example.net>");
  EXPECT_EQ(header_value(raw, "Message-ID"), "<e2e-ses-1@client.example>");
  EXPECT_TRUE(raw.starts_with("Received: from client.test (")) << raw;
  auto blank = raw.find("\r\n\r\n");
  ASSERT_NE(blank, std::string::npos);
  EXPECT_EQ(raw.substr(blank + 4), kBody);

  auto line = wait_for_log_line(relay, {"upstream=ses-e2e", "provider=ses", "outcome=delivered"});
  EXPECT_NE(line.find("id=0100018c-e2e-0001"), std::string::npos) << relay.log();
  EXPECT_NE(line.find("rcpts=3/3"), std::string::npos) << line;
  for (const char* rcpt : {"bob@example.net", "carol@example.org", "dave@example.com"}) {
    auto rl = wait_for_log_line(relay, {std::string("rcpt=") + rcpt, "result=delivered"});
    EXPECT_NE(rl.find("0100018c-e2e-0001"), std::string::npos) << relay.log();
  }
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
  std::string log = relay.log();
  EXPECT_EQ(log.find(kSecret), std::string::npos) << "the secret key reached the log";
  EXPECT_EQ(log.find(kSessionToken), std::string::npos) << "the session token reached the log";
}

TEST(UpstreamSes, FromModeMissingFillsOnlyWhatIsMissing) {
  FakeProvider api(FakeKind::ses, ses_credentials("us-east-1"));
  FakeRecord first, second;
  ASSERT_NO_FATAL_FAILURE(deliver_with_and_without_from(api, ses_upstream(api.base_url(), "missing"), first, second));
  if (IsSkipped()) return;
  EXPECT_EQ(header_value(first.raw_message, "Subject"), "one");
  EXPECT_EQ(body_of(first)["FromEmailAddress"], json::value("alice@client.example"));
  EXPECT_EQ(header_value(first.raw_message, "From"), "Alice Sender <alice@client.example>");
  EXPECT_EQ(header_values(first.raw_message, "Reply-To"), std::vector<std::string>{"support@yourdomain.com"});
  EXPECT_EQ(body_of(second)["FromEmailAddress"], json::value("noreply@yourdomain.com"));
  EXPECT_EQ(header_value(second.raw_message, "From"), "Your Service <noreply@yourdomain.com>");
}

TEST(UpstreamSes, TemporaryAnswersAreRetriedUntilDelivered) {
  FakeProvider api(FakeKind::ses, ses_credentials("us-east-1"));
  api.push_answer(api.throttled(1));    // 429 TooManyRequestsException
  api.push_answer(api.server_error());  // 503
  // An unverified identity is this upstream's refusal, not the message's fault: kept for later, not bounced.
  api.push_answer(api.rejected("Email address is not verified. The following identities failed the check"));
  std::vector<FakeRecord> records;
  // Each attempt is signed afresh and still checks out (the last request has no problems).
  ASSERT_NO_FATAL_FAILURE(expect_retried_until_delivered(api, ses_upstream(api.base_url(), "missing"), kMessage,
                                                         "TooManyRequestsException", "HTTP 429", {"not verified"},
                                                         {429, 503, 400, 200}, records));
}

TEST(UpstreamSes, MessageRejectedBouncesToTheSender) {
  FakeProvider api(FakeKind::ses, ses_credentials("us-east-1"));
  api.push_answer(api.rejected("Illegal address"));  // 400 MessageRejected
  FakeRecord bounce;
  ASSERT_NO_FATAL_FAILURE(
      expect_bounced(api, ses_upstream(api.base_url(), "missing"), kMessage, 400, "MessageRejected", bounce));
  if (IsSkipped()) return;
  auto body = body_of(bounce);
  EXPECT_EQ(body["Destination"], json::parse(R"({"ToAddresses":["alice@client.example"]})"));
  EXPECT_NE(header_value(bounce.raw_message, "Content-Type").find("multipart/report"), std::string::npos)
      << bounce.raw_message;
  EXPECT_NE(bounce.raw_message.find("Final-Recipient: rfc822; bob@example.net"), std::string::npos)
      << bounce.raw_message;
  EXPECT_NE(bounce.raw_message.find("MessageRejected: Illegal address"), std::string::npos) << bounce.raw_message;
}

TEST(UpstreamSes, RegionDecidesTheHostAndTheSignature) {
  FakeRecord request;
  ASSERT_NO_FATAL_FAILURE(expect_default_host(FakeKind::ses, ses_credentials("eu-west-1"),
                                              "email.eu-west-1.amazonaws.com",
                                              [] { return ses_upstream("", "missing", "eu-west-1"); }, kMessage,
                                              request));
  if (IsSkipped()) return;
  EXPECT_NE(request.exchange.header("Authorization").find("/eu-west-1/ses/aws4_request"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::test
