// Scenario: `smarthost serve` with a SendGrid upstream (the guide's advanced example, pointed at the strict fake
// SendGrid v3 API) turns what SMTP clients send into mail/send JSON: every config key mapped (template_id,
// categories, custom_args, tracking_settings, from_*, reply_to), the envelope as personalizations (Bcc from the
// envelope), the sender identity applied both ways (from_mode), X-Message-Id in the log, temporary answers
// retried, a permanent refusal bounced to the sender, and the default host api.sendgrid.com without an endpoint.
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

constexpr const char* kApiKey = "SG.your-api-key";

FakeCredentials sendgrid_credentials() {
  FakeCredentials c;
  c.api_key = kApiKey;
  return c;
}

// The guide's "Advanced SendGrid Options", in TOML, plus endpoint and from_mode.
std::string sendgrid_upstream(const std::string& endpoint, const std::string& from_mode) {
  std::string out = "provider = \"sendgrid\"\nname = \"sendgrid-e2e\"\n\n[config]\n"
                    "api_key = \"SG.your-api-key\"\nfrom_email = \"noreply@yourdomain.com\"\n"
                    "from_name = \"Your Service\"\nreply_to = \"support@yourdomain.com\"\n"
                    "template_id = \"d-1234567890abcdef\"\ncategories = [\"chatapi\", \"notifications\"]\n"
                    "custom_args = { environment = \"production\", service = \"chatapi\" }\n"
                    "from_mode = \"" + from_mode + "\"\n";
  if (!endpoint.empty()) out += "endpoint = \"" + endpoint + "\"\n";
  out += "\n[config.tracking_settings.click_tracking]\nenable = true\nenable_text = false\n"
         "\n[config.tracking_settings.open_tracking]\nenable = true\nsubstitution_tag = \"%open_track%\"\n"
         "\n[config.tracking_settings.subscription_tracking]\nenable = true\ntext = \"Unsubscribe\"\n"
         "html = \"<a href=\\\"%unsubscribe%\\\">Unsubscribe</a>\"\n";
  return out;
}

json::object body_of(const FakeRecord& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.exchange.body, ec);
  return !ec && v.is_object() ? v.get_object() : json::object{};
}

json::value parsed(std::string_view text) { return json::parse(text); }

std::string without_final_newline(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  return std::string(text);
}

const std::string kMessage =
    "From: Alice Sender <alice@client.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Cc: carol@example.org\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Quarterly report\r\n"
    "Message-ID: <e2e-sendgrid-1@client.example>\r\n"
    "X-Report-Id: 42\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\r\n"
    ".dotted line\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Hello <b>Bob</b></p>\r\n"
    "--b1--\r\n";

TEST(UpstreamSendgrid, AdvancedConfigDeliversEveryFieldThroughServe) {
  FakeProvider api(FakeKind::sendgrid, sendgrid_credentials());
  FakeAnswer accepted;
  accepted.status = 202;
  accepted.headers = {{"X-Message-Id", "sg-e2e-0001"}};
  api.push_answer(accepted);
  RelayOptions o;
  o.upstream = sendgrid_upstream(api.base_url(), "always");
  Relay relay(o);
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example",
                           {"bob@example.net", "carol@example.org", "dave@example.com"}, kMessage, "BODY=8BITMIME")
                  .accepted());
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();
  auto records = api.records();
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_TRUE(r.problems.empty()) << ::testing::PrintToString(r.problems);
  EXPECT_EQ(r.exchange.method, "POST");
  EXPECT_EQ(r.exchange.target, "/v3/mail/send");
  EXPECT_EQ(r.exchange.header("Authorization"), "Bearer SG.your-api-key");
  auto body = body_of(r);
  ASSERT_FALSE(body.empty()) << r.exchange.body;

  // The envelope as one personalization; dave only in the envelope (and the removed Bcc header) goes in bcc.
  EXPECT_EQ(body["personalizations"], parsed(R"([{"to":[{"email":"bob@example.net","name":"Bob"}],
      "cc":[{"email":"carol@example.org"}],"bcc":[{"email":"dave@example.com"}]}])"));
  // from_mode = "always": the configured identity; reply_to set, so it is the reply_to.
  EXPECT_EQ(body["from"], parsed(R"({"email":"noreply@yourdomain.com","name":"Your Service"})"));
  EXPECT_EQ(body["reply_to"], parsed(R"({"email":"support@yourdomain.com"})"));
  EXPECT_EQ(body["subject"], json::value("Quarterly report"));
  // Plain first, then HTML; 8-bit text decoded, LF line ends, the leading dot kept as sent.
  ASSERT_TRUE(body["content"].is_array()) << r.exchange.body;
  const auto& content = body["content"].as_array();
  ASSERT_EQ(content.size(), 2u) << r.exchange.body;
  EXPECT_EQ(content[0].as_object().at("type"), json::value("text/plain"));
  EXPECT_EQ(without_final_newline(content[0].as_object().at("value").as_string()),
            "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\n.dotted line");
  EXPECT_EQ(content[1].as_object().at("type"), json::value("text/html"));
  EXPECT_EQ(without_final_newline(content[1].as_object().at("value").as_string()), "<p>Hello <b>Bob</b></p>");
  EXPECT_EQ(body["template_id"], json::value("d-1234567890abcdef"));
  EXPECT_EQ(body["categories"], parsed(R"(["chatapi","notifications"])"));
  EXPECT_EQ(body["custom_args"], parsed(R"({"environment":"production","service":"chatapi"})"));
  EXPECT_EQ(body["tracking_settings"], parsed(R"({
      "click_tracking":{"enable":true,"enable_text":false},
      "open_tracking":{"enable":true,"substitution_tag":"%open_track%"},
      "subscription_tracking":{"enable":true,"text":"Unsubscribe","html":"<a href=\"%unsubscribe%\">Unsubscribe</a>"}})"));
  // Custom headers pass; the structural ones (Received, Message-ID, Bcc ...) are SendGrid's to build.
  ASSERT_TRUE(body["headers"].is_object()) << r.exchange.body;
  EXPECT_EQ(body["headers"].as_object()["X-Report-Id"], json::value("42"));
  for (const char* name : {"Received", "Bcc", "From", "To", "Subject", "Content-Type"})
    EXPECT_FALSE(body["headers"].as_object().contains(name)) << name;
  EXPECT_FALSE(body.contains("mail_settings")) << "no sandbox outside test mode";

  auto line = wait_for_log_line(relay, {"upstream=sendgrid-e2e", "provider=sendgrid", "outcome=delivered"});
  EXPECT_NE(line.find("id=sg-e2e-0001"), std::string::npos) << relay.log();
  EXPECT_NE(line.find("rcpts=3/3"), std::string::npos) << line;
  for (const char* rcpt : {"bob@example.net", "carol@example.org", "dave@example.com"}) {
    auto rl = wait_for_log_line(relay, {std::string("rcpt=") + rcpt, "result=delivered"});
    EXPECT_NE(rl.find("sg-e2e-0001"), std::string::npos) << relay.log();
  }
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
  EXPECT_EQ(relay.log().find(kApiKey), std::string::npos) << "the API key reached the log";
}

TEST(UpstreamSendgrid, FromModeMissingFillsOnlyWhatIsMissing) {
  FakeProvider api(FakeKind::sendgrid, sendgrid_credentials());
  FakeRecord with_from, without_from;
  ASSERT_NO_FATAL_FAILURE(
      deliver_with_and_without_from(api, sendgrid_upstream(api.base_url(), "missing"), with_from, without_from));
  if (IsSkipped()) return;
  auto first = body_of(with_from);
  auto second = body_of(without_from);
  EXPECT_EQ(first["subject"], json::value("one"));
  EXPECT_EQ(first["from"], parsed(R"({"email":"alice@client.example","name":"Alice Sender"})"));
  EXPECT_EQ(first["reply_to"], parsed(R"({"email":"support@yourdomain.com"})"));
  EXPECT_EQ(second["from"], parsed(R"({"email":"noreply@yourdomain.com","name":"Your Service"})"));
  EXPECT_EQ(second["personalizations"], parsed(R"([{"to":[{"email":"bob@example.net"}]}])"));
}

TEST(UpstreamSendgrid, TemporaryAnswersAreRetriedUntilDelivered) {
  FakeProvider api(FakeKind::sendgrid, sendgrid_credentials());
  api.push_answer(api.throttled(1));    // 429 with X-RateLimit-Reset one second ahead
  api.push_answer(api.server_error());  // 503
  api.push_answer(api.bad_credentials());  // 401: this upstream refuses; kept for later, not bounced
  std::vector<FakeRecord> records;
  ASSERT_NO_FATAL_FAILURE(expect_retried_until_delivered(api, sendgrid_upstream(api.base_url(), "missing"),
                                                         kMessage, "HTTP 429", "HTTP 429", {"HTTP 503", "HTTP 401"},
                                                         {429, 503, 401, 202}, records));
}

TEST(UpstreamSendgrid, PermanentRefusalBouncesToTheSender) {
  FakeProvider api(FakeKind::sendgrid, sendgrid_credentials());
  api.push_answer(api.rejected("The content value must be a string at least one character in length."));  // 400
  FakeRecord bounce;
  ASSERT_NO_FATAL_FAILURE(
      expect_bounced(api, sendgrid_upstream(api.base_url(), "missing"), kMessage, 400, "HTTP 400", bounce));
  if (IsSkipped()) return;
  auto body = body_of(bounce);
  EXPECT_EQ(body["personalizations"], parsed(R"([{"to":[{"email":"alice@client.example"}]}])"));
  EXPECT_EQ(body["subject"], json::value("Undelivered Mail Returned to Sender"));
  std::string text = json::serialize(body["content"]);
  EXPECT_NE(text.find("bob@example.net"), std::string::npos) << text;
  EXPECT_NE(text.find("at least one character"), std::string::npos) << text;
}

TEST(UpstreamSendgrid, NoEndpointReachesApiSendgridCom) {
  FakeRecord request;
  ASSERT_NO_FATAL_FAILURE(expect_default_host(FakeKind::sendgrid, sendgrid_credentials(), "api.sendgrid.com",
                                              [] { return sendgrid_upstream("", "missing"); }, kMessage, request));
}

}  // namespace
}  // namespace smarthost::test
