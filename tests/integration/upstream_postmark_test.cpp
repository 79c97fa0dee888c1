// Scenario: `smarthost serve` with a Postmark upstream (the guide's advanced example, pointed at the strict fake
// Postmark API) turns what SMTP clients send into /email JSON: every config key mapped (track_opens, track_links,
// message_stream, tag, metadata, from_*, reply_to), the envelope as To/Cc/Bcc, the sender identity applied both
// ways (from_mode), the MessageID in the log, temporary answers retried, an inactive recipient (ErrorCode 406)
// bounced to the sender, and the default host api.postmarkapp.com without an endpoint.
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

constexpr const char* kToken = "your-server-token";

FakeCredentials postmark_credentials() {
  FakeCredentials c;
  c.api_key = kToken;
  return c;
}

// The guide's "Advanced Postmark Options", in TOML, plus endpoint and from_mode.
std::string postmark_upstream(const std::string& endpoint, const std::string& from_mode) {
  std::string out = "provider = \"postmark\"\nname = \"postmark-e2e\"\n\n[config]\n"
                    "server_token = \"your-server-token\"\nfrom_email = \"noreply@yourdomain.com\"\n"
                    "from_name = \"Your Service\"\nreply_to = \"support@yourdomain.com\"\n"
                    "track_opens = true\ntrack_links = \"HtmlOnly\"\nmessage_stream = \"outbound\"\n"
                    "tag = \"chatapi-notifications\"\n"
                    "metadata = { environment = \"production\", service = \"chatapi\" }\n"
                    "from_mode = \"" + from_mode + "\"\n";
  if (!endpoint.empty()) out += "endpoint = \"" + endpoint + "\"\n";
  out += "\n[options]\nrate_limit = 300\ntimeout = 30\n";
  return out;
}

json::object body_of(const FakeRecord& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.exchange.body, ec);
  return !ec && v.is_object() ? v.get_object() : json::object{};
}

std::string text_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string without_final_newline(std::string text) {
  if (text.ends_with('\n')) text.pop_back();
  return text;
}

const std::string kMessage =
    "From: Alice Sender <alice@client.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Cc: carol@example.org\r\n"
    "Bcc: dave@example.com\r\n"
    "Subject: Quarterly report\r\n"
    "Message-ID: <e2e-postmark-1@client.example>\r\n"
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

TEST(UpstreamPostmark, AdvancedConfigDeliversEveryFieldThroughServe) {
  FakeProvider api(FakeKind::postmark, postmark_credentials());
  FakeAnswer sent;
  sent.headers = {{"Content-Type", "application/json"}};
  sent.body = R"({"To":"bob@example.net","SubmittedAt":"2026-01-01T00:00:00Z","MessageID":"pm-e2e-0001",)"
              R"("ErrorCode":0,"Message":"OK"})";
  api.push_answer(sent);
  RelayOptions o;
  o.upstream = postmark_upstream(api.base_url(), "always");
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
  EXPECT_EQ(r.exchange.target, "/email");
  EXPECT_EQ(r.exchange.header("X-Postmark-Server-Token"), kToken);
  EXPECT_EQ(r.exchange.header("Accept"), "application/json");
  auto body = body_of(r);
  ASSERT_FALSE(body.empty()) << r.exchange.body;

  // from_mode = "always": the configured identity; reply_to set, so it is the ReplyTo.
  EXPECT_EQ(text_at(body, "From"), "Your Service <noreply@yourdomain.com>");
  EXPECT_EQ(text_at(body, "ReplyTo"), "support@yourdomain.com");
  // The envelope: dave, only in the envelope (and the removed Bcc header), is a Bcc.
  EXPECT_EQ(text_at(body, "To"), "Bob <bob@example.net>");
  EXPECT_EQ(text_at(body, "Cc"), "carol@example.org");
  EXPECT_EQ(text_at(body, "Bcc"), "dave@example.com");
  EXPECT_EQ(text_at(body, "Subject"), "Quarterly report");
  // 8-bit text decoded, LF line ends, the leading dot kept as sent.
  EXPECT_EQ(without_final_newline(text_at(body, "TextBody")),
            "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln.\n.dotted line");
  EXPECT_EQ(without_final_newline(text_at(body, "HtmlBody")), "<p>Hello <b>Bob</b></p>");
  EXPECT_EQ(text_at(body, "Tag"), "chatapi-notifications");
  EXPECT_EQ(body["Metadata"], json::parse(R"({"environment":"production","service":"chatapi"})"));
  EXPECT_EQ(text_at(body, "MessageStream"), "outbound");
  EXPECT_EQ(body["TrackOpens"], json::value(true));
  EXPECT_EQ(text_at(body, "TrackLinks"), "HtmlOnly");
  EXPECT_EQ(body["Headers"], json::parse(R"([{"Name":"X-Report-Id","Value":"42"}])"));

  auto line = wait_for_log_line(relay, {"upstream=postmark-e2e", "provider=postmark", "outcome=delivered"});
  EXPECT_NE(line.find("id=pm-e2e-0001"), std::string::npos) << relay.log();
  EXPECT_NE(line.find("rcpts=3/3"), std::string::npos) << line;
  for (const char* rcpt : {"bob@example.net", "carol@example.org", "dave@example.com"}) {
    auto rl = wait_for_log_line(relay, {std::string("rcpt=") + rcpt, "result=delivered"});
    EXPECT_NE(rl.find("pm-e2e-0001"), std::string::npos) << relay.log();
  }
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
  EXPECT_EQ(relay.log().find(kToken), std::string::npos) << "the server token reached the log";
}

TEST(UpstreamPostmark, FromModeMissingFillsOnlyWhatIsMissing) {
  FakeProvider api(FakeKind::postmark, postmark_credentials());
  FakeRecord with_from, without_from;
  ASSERT_NO_FATAL_FAILURE(
      deliver_with_and_without_from(api, postmark_upstream(api.base_url(), "missing"), with_from, without_from));
  if (IsSkipped()) return;
  auto first = body_of(with_from);
  auto second = body_of(without_from);
  EXPECT_EQ(text_at(first, "Subject"), "one");
  EXPECT_EQ(text_at(first, "From"), "Alice Sender <alice@client.example>");
  EXPECT_EQ(text_at(first, "ReplyTo"), "support@yourdomain.com");
  EXPECT_EQ(text_at(second, "From"), "Your Service <noreply@yourdomain.com>");
  EXPECT_EQ(text_at(second, "To"), "bob@example.net");
}

TEST(UpstreamPostmark, TemporaryAnswersAreRetriedUntilDelivered) {
  FakeProvider api(FakeKind::postmark, postmark_credentials());
  api.push_answer(api.throttled(1));    // 429, ErrorCode 429, Retry-After: 1
  api.push_answer(api.server_error());  // 500
  // The connection closes without an answer, twice: libcurl sends a request again by itself, once, when a reused
  // connection closes before answering (a stale keep-alive); on a fresh connection it is the relay's failure.
  api.push_answer(FakeProvider::dropped());
  api.push_answer(FakeProvider::dropped());
  api.push_answer(api.bad_credentials());  // 401: this upstream refuses; kept for later, not bounced
  std::vector<FakeRecord> records;
  ASSERT_NO_FATAL_FAILURE(expect_retried_until_delivered(api, postmark_upstream(api.base_url(), "missing"),
                                                         kMessage, "HTTP 429", "HTTP 429", {"no answer", "HTTP 401"},
                                                         {429, 500, 0, 0, 401, 200}, records));
}

TEST(UpstreamPostmark, InactiveRecipientBouncesToTheSender) {
  FakeProvider api(FakeKind::postmark, postmark_credentials());
  api.fail_recipient("bob@example.net", 406,
                     "You tried to send to a recipient that has been marked as inactive.");  // 422, permanent
  FakeRecord bounce;
  ASSERT_NO_FATAL_FAILURE(
      expect_bounced(api, postmark_upstream(api.base_url(), "missing"), kMessage, 422, "HTTP 422", bounce));
  if (IsSkipped()) return;
  auto body = body_of(bounce);
  EXPECT_EQ(text_at(body, "To"), "alice@client.example");
  EXPECT_EQ(text_at(body, "Subject"), "Undelivered Mail Returned to Sender");
  EXPECT_NE(text_at(body, "TextBody").find("bob@example.net"), std::string::npos) << bounce.exchange.body;
  EXPECT_NE(text_at(body, "TextBody").find("marked as inactive"), std::string::npos) << bounce.exchange.body;
}

TEST(UpstreamPostmark, NoEndpointReachesApiPostmarkappCom) {
  FakeRecord request;
  ASSERT_NO_FATAL_FAILURE(expect_default_host(FakeKind::postmark, postmark_credentials(), "api.postmarkapp.com",
                                              [] { return postmark_upstream("", "missing"); }, kMessage, request));
}

}  // namespace
}  // namespace smarthost::test
