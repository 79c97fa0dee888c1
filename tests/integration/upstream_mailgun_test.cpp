// Scenario: `smarthost serve` with a Mailgun upstream (the guide's advanced example, pointed at the strict fake
// Mailgun API) delivers what SMTP clients send: every config key mapped to its form field, Bcc stripped, the
// envelope as the `to` fields, the sender identity applied both ways (from_mode), the provider's id in the log,
// temporary answers retried, a permanent refusal bounced to the sender, and region = "eu" reaching
// api.eu.mailgun.net when no endpoint is set.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/provider_e2e.h"
#include "tests/support/upstream_e2e.h"

namespace smarthost::test {
namespace {

using namespace e2e;

constexpr const char* kApiKey = "key-your-api-key";
constexpr const char* kDomain = "mg.yourdomain.com";

FakeCredentials mailgun_credentials() {
  FakeCredentials c;
  c.api_key = kApiKey;
  c.domain = kDomain;
  return c;
}

// The guide's "Advanced Mailgun Options", in TOML, plus the keys every provider has (endpoint, from_mode).
std::string mailgun_upstream(const std::string& endpoint, const std::string& from_mode,
                             const std::string& region = "us") {
  std::string out = "provider = \"mailgun\"\nname = \"mailgun-e2e\"\n\n[config]\n"
                    "api_key = \"key-your-api-key\"\ndomain = \"mg.yourdomain.com\"\nregion = \"" + region + "\"\n"
                    "from_email = \"noreply@yourdomain.com\"\nfrom_name = \"Your Service\"\n"
                    "reply_to = \"support@yourdomain.com\"\ntags = [\"chatapi\", \"notifications\"]\n"
                    "custom_variables = { environment = \"production\" }\n"
                    "from_mode = \"" + from_mode + "\"\n";
  if (!endpoint.empty()) out += "endpoint = \"" + endpoint + "\"\n";
  out += "\n[config.tracking]\nopens = true\nclicks = true\nunsubscribes = true\n"
         "\n[options]\nrate_limit = 1000\ntimeout = 30\nretry_attempts = 3\n";
  return out;
}

std::vector<std::string> form_values(const FakeRecord& record, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : record.form)
    if (n == name) out.push_back(v);
  return out;
}

const std::string kBody =
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln: the report is attached below.\r\n"
    ".a line that starts with a dot\r\n"
    "..and one with two\r\n"
    ".\r\n"
    "the end\r\n";

const std::string kMessage =
    "From: Alice Sender <alice@client.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Cc: carol@example.org\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Quarterly report\r\n"
    "Message-ID: <e2e-mailgun-1@client.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n" + kBody;

const std::vector<std::string> kRecipients{"bob@example.net", "carol@example.org", "dave@example.com"};

TEST(UpstreamMailgun, AdvancedConfigDeliversEveryFieldThroughServe) {
  FakeProvider api(FakeKind::mailgun, mailgun_credentials());
  FakeAnswer queued;
  queued.headers = {{"Content-Type", "application/json"}};
  queued.body = R"({"id":"<20260101120000.e2e-1@mg.yourdomain.com>","message":"Queued. Thank you."})";
  api.push_answer(queued);
  RelayOptions o;
  o.upstream = mailgun_upstream(api.base_url(), "always");
  Relay relay(o);
  E2E_START_RELAY(relay);

  // swaks, a real client, sends the message file (it dot-stuffs on the wire itself, and ends the data with
  // "\r\n.\r\n" after the file's last byte: so the file goes without its final line end).
  TempDir tmp;
  auto file = tmp.write("message.eml", std::string_view(kMessage).substr(0, kMessage.size() - 2));
  auto sent = run({"swaks", "--server", "127.0.0.1:" + std::to_string(relay.port()), "--ehlo", "client.test",
                   "--from", "alice@client.example", "--to", "bob@example.net,carol@example.org,dave@example.com",
                   "--data", file.string(), "--timeout", "10"});
  ASSERT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();

  auto records = api.records();
  ASSERT_EQ(records.size(), 1u);
  const auto& r = records[0];
  EXPECT_TRUE(r.problems.empty()) << ::testing::PrintToString(r.problems);
  EXPECT_EQ(r.exchange.method, "POST");
  EXPECT_EQ(r.exchange.target, "/v3/mg.yourdomain.com/messages.mime");
  EXPECT_EQ(r.exchange.header("Authorization"), "Basic YXBpOmtleS15b3VyLWFwaS1rZXk=");  // api:key-your-api-key
  // The envelope, not the headers: the Bcc recipient is addressed although its header is gone.
  EXPECT_EQ(form_values(r, "to"), kRecipients);
  EXPECT_EQ(form_values(r, "o:tag"), (std::vector<std::string>{"chatapi", "notifications"}));
  EXPECT_EQ(form_values(r, "o:tracking-opens"), std::vector<std::string>{"yes"});
  EXPECT_EQ(form_values(r, "o:tracking-clicks"), std::vector<std::string>{"yes"});
  EXPECT_EQ(form_values(r, "o:tracking-unsubscribes"), std::vector<std::string>{"yes"});
  EXPECT_EQ(form_values(r, "v:environment"), std::vector<std::string>{"\"production\""});
  EXPECT_TRUE(form_values(r, "o:testmode").empty());

  const std::string& raw = r.raw_message;
  EXPECT_TRUE(header_values(raw, "Bcc").empty()) << raw;
  // from_mode = "always": From is the configured identity; reply_to is set, so it is the Reply-To.
  EXPECT_EQ(header_value(raw, "From"), "Your Service <noreply@yourdomain.com>");
  EXPECT_EQ(header_values(raw, "Reply-To"), std::vector<std::string>{"support@yourdomain.com"});
  EXPECT_EQ(header_value(raw, "To"), "Bob <bob@example.net>");
  EXPECT_EQ(header_value(raw, "Cc"), "carol@example.org");
  EXPECT_EQ(header_value(raw, "Subject"), "Quarterly report");
  EXPECT_EQ(header_value(raw, "Message-ID"), "<e2e-mailgun-1@client.example>");
  EXPECT_TRUE(raw.starts_with("Received: from client.test (")) << raw;
  EXPECT_NE(header_value(raw, "Received").find("by relay.test (smarthost) with ESMTP id"), std::string::npos);
  // The body byte for byte: 8-bit text, and lines with leading dots unstuffed again.
  auto blank = raw.find("\r\n\r\n");
  ASSERT_NE(blank, std::string::npos);
  EXPECT_EQ(raw.substr(blank + 4), kBody);

  // The provider's id in the relay's transaction line and in each recipient's line.
  auto line = wait_for_log_line(relay, {"upstream=mailgun-e2e", "provider=mailgun", "outcome=delivered"});
  EXPECT_NE(line.find("id=<20260101120000.e2e-1@mg.yourdomain.com>"), std::string::npos) << relay.log();
  EXPECT_NE(line.find("rcpts=3/3"), std::string::npos) << line;
  for (const auto& rcpt : kRecipients) {
    auto rl = wait_for_log_line(relay, {"rcpt=" + rcpt, "result=delivered"});
    EXPECT_NE(rl.find("20260101120000.e2e-1@mg.yourdomain.com"), std::string::npos) << relay.log();
  }
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
  // The API key never reaches the log.
  EXPECT_EQ(relay.log().find(kApiKey), std::string::npos);
}

TEST(UpstreamMailgun, FromModeMissingFillsOnlyWhatIsMissing) {
  FakeProvider api(FakeKind::mailgun, mailgun_credentials());
  FakeRecord first, second;
  ASSERT_NO_FATAL_FAILURE(
      deliver_with_and_without_from(api, mailgun_upstream(api.base_url(), "missing"), first, second));
  if (IsSkipped()) return;
  // With a From and no Reply-To: the From stays, Reply-To is added.
  EXPECT_EQ(header_value(first.raw_message, "From"), "Alice Sender <alice@client.example>");
  EXPECT_EQ(header_values(first.raw_message, "Reply-To"), std::vector<std::string>{"support@yourdomain.com"});
  // No From at all: the configured identity is the From.
  EXPECT_EQ(header_value(second.raw_message, "From"), "Your Service <noreply@yourdomain.com>");
  EXPECT_EQ(form_values(second, "to"), std::vector<std::string>{"bob@example.net"});
}

TEST(UpstreamMailgun, TemporaryAnswersAreRetriedUntilDelivered) {
  FakeProvider api(FakeKind::mailgun, mailgun_credentials());
  api.push_answer(api.throttled(1));  // 429 with Retry-After: 1
  api.push_answer(api.server_error());  // 503
  FakeAnswer unknown_domain;              // 404: temporary for Mailgun (often a domain still being set up)
  unknown_domain.status = 404;
  unknown_domain.body = R"({"message":"Domain not found: mg.yourdomain.com"})";
  api.push_answer(unknown_domain);
  std::vector<FakeRecord> records;
  ASSERT_NO_FATAL_FAILURE(expect_retried_until_delivered(api, mailgun_upstream(api.base_url(), "missing"), kMessage,
                                                         "HTTP 429", "HTTP 429", {"HTTP 503", "HTTP 404"},
                                                         {429, 503, 404, 200}, records));
  if (IsSkipped()) return;
  // The same message each time.
  EXPECT_EQ(records.front().raw_message, records.back().raw_message);
}

TEST(UpstreamMailgun, PermanentRefusalBouncesToTheSender) {
  FakeProvider api(FakeKind::mailgun, mailgun_credentials());
  api.push_answer(api.rejected("'to' parameter is not a valid address"));  // 400
  FakeRecord bounce;
  ASSERT_NO_FATAL_FAILURE(
      expect_bounced(api, mailgun_upstream(api.base_url(), "missing"), kMessage, 400, "HTTP 400", bounce));
  if (IsSkipped()) return;
  EXPECT_EQ(form_values(bounce, "to"), std::vector<std::string>{"alice@client.example"});
  EXPECT_NE(header_value(bounce.raw_message, "Content-Type").find("multipart/report"), std::string::npos)
      << bounce.raw_message;
  EXPECT_NE(bounce.raw_message.find("Final-Recipient: rfc822; bob@example.net"), std::string::npos)
      << bounce.raw_message;
  EXPECT_NE(bounce.raw_message.find("Action: failed"), std::string::npos) << bounce.raw_message;
  EXPECT_NE(bounce.raw_message.find("not a valid address"), std::string::npos) << bounce.raw_message;
}

TEST(UpstreamMailgun, RegionEuReachesTheEuApiHost) {
  FakeRecord request;
  // No endpoint: the region decides the host.
  ASSERT_NO_FATAL_FAILURE(expect_default_host(FakeKind::mailgun, mailgun_credentials(), "api.eu.mailgun.net",
                                              [] { return mailgun_upstream("", "missing", "eu"); }, kMessage,
                                              request));
}

}  // namespace
}  // namespace smarthost::test
