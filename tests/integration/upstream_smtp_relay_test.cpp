// Scenario: `smarthost serve` with an SMTP upstream (the guide's advanced SMTP keys) relays to a real aiosmtpd that
// requires STARTTLS and AUTH: the message arrives byte for byte (headers, dot-stuffed lines, 8-bit text, long
// lines), with only the relay's Received: line in front, over verified TLS, as the configured user, with
// return_path as the envelope sender and BODY=8BITMIME kept. Also: from_mode both ways, and against the scriptable
// fake server a 4xx retried and a 5xx bounced to the sender with the null reverse-path, and the message sent as
// one BDAT chunk where CHUNKING is offered.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <algorithm>

#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/upstream_e2e.h"

namespace smarthost::test {
namespace {

using namespace e2e;
namespace json = boost::json;

constexpr const char* kUser = "relay-user";
constexpr const char* kPassword = "s3cret-Pa55word";

// The guide's "Advanced SMTP Options", in TOML, with STARTTLS instead of implicit TLS (aiosmtpd offers STARTTLS).
std::string smtp_upstream(int port, const std::string& from_mode, bool tls_and_auth = true) {
  std::string out = "provider = \"smtp\"\nname = \"relay-e2e\"\n\n[config]\nhost = \"127.0.0.1\"\nport = " +
                    std::to_string(port) + "\n";
  if (tls_and_auth)
    out += std::string("username = \"") + kUser + "\"\npassword = \"" + kPassword + "\"\nuse_tls = true\n";
  out += "use_ssl = false\ntimeout = 30\nlocal_hostname = \"relay-e2e.test\"\ndebug_level = 0\n"
         "from_email = \"noreply@example.com\"\nfrom_name = \"Example Service\"\n"
         "reply_to = \"support@example.com\"\nreturn_path = \"bounces@example.com\"\n"
         "from_mode = \"" + from_mode + "\"\n"
         "\n[options]\nrate_limit = 50\nconnection_pool_size = 5\nretry_attempts = 3\nretry_delay = 5\n";
  return out;
}

// Splits a received message into its first header field (the relay's Received:, folded lines included) and the rest.
std::pair<std::string, std::string> split_first_field(const std::string& message) {
  std::size_t end = 0;
  for (;;) {
    auto eol = message.find("\r\n", end);
    if (eol == std::string::npos) return {message, ""};
    end = eol + 2;
    if (end >= message.size() || (message[end] != ' ' && message[end] != '\t')) break;
  }
  return {message.substr(0, end), message.substr(end)};
}

std::string strings_of(const json::value& v) {
  std::string out;
  if (!v.is_array()) return out;
  for (const auto& s : v.as_array()) out += (out.empty() ? "" : ",") + std::string(s.is_string() ? s.as_string() : "");
  return out;
}

// Every kind of line a relay must carry unchanged.
const std::string kLongLine = std::string(900, 'x') + "\t" + std::string(80, 'y');
const std::string kMessage =
    "From: Alice Sender <alice@client.example>\r\n"
    "Reply-To: Alice's Desk <desk@client.example>\r\n"
    "To: Bob <bob@example.net>\r\n"
    "Cc: carol@example.org\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZQ==?= and a folded\r\n"
    "\tsubject line\r\n"
    "Message-ID: <e2e-smtp-1@client.example>\r\n"
    "X-Trace:   spaces kept   \r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\r\n"
    ".\r\n"
    "..\r\n"
    ".leading dot\r\n"
    "...three dots\r\n"
    " . space dot\r\n"
    "\r\n"
    "\r\n"
    "trailing spaces   \r\n"
    "From the start of a line\r\n" +
    kLongLine + "\r\n"
    "the end\r\n";

class UpstreamSmtpRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(peer_.path() / "pki");
    sink_ = std::make_unique<AiosmtpdSink>(peer_.path(), pki_->good, pki_->key, kUser, kPassword);
  }
  RelayOptions options(const std::string& from_mode) const {
    RelayOptions o;
    o.upstream = smtp_upstream(sink_->port(), from_mode);
    o.extra = "\n[security]\nverify_certificates = true\nca_file = \"" + pki_->ca + "\"\n";
    return o;
  }
  bool wait_for_sink(std::size_t n) const {
    return wait_until([&] { return sink_->count() >= n && !sink_->envelope(static_cast<int>(n)).empty(); }, 10s);
  }

  TempDir peer_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<AiosmtpdSink> sink_;
};

TEST_F(UpstreamSmtpRelay, ByteExactOverStartTlsAndAuthToAiosmtpd) {
  Relay relay(options("missing"));
  E2E_START_RELAY(relay);

  auto sent = send_message(relay.port(), "alice@client.example", {"bob@example.net", "carol@example.org"}, kMessage,
                           "BODY=8BITMIME");
  ASSERT_TRUE(sent.accepted()) << sent.reply;
  ASSERT_TRUE(wait_for_sink(1)) << relay.log();

  // Everything after the relay's own Received: line is the client's message, unchanged: the From and Reply-To
  // are there, so from_mode = "missing" adds nothing.
  auto [received, rest] = split_first_field(sink_->message(1));
  EXPECT_EQ(rest, kMessage);
  EXPECT_TRUE(received.starts_with("Received: from client.test ([127.0.0.1])")) << received;
  EXPECT_NE(header_value(received, "Received").find("by relay.test (smarthost) with ESMTP id "), std::string::npos)
      << received;
  auto accepted = log_line(relay, {"qid=", "from=<alice@client.example>", "accepted"});
  auto qid_at = accepted.find("qid=");
  ASSERT_NE(qid_at, std::string::npos) << relay.log();
  std::string qid = accepted.substr(qid_at + 4, accepted.find(' ', qid_at) - qid_at - 4);
  EXPECT_NE(received.find(" id " + qid), std::string::npos) << received << " vs qid " << qid;

  auto envelope = sink_->envelope(1);
  EXPECT_EQ(envelope["mail_from"], json::value("bounces@example.com"));  // return_path
  EXPECT_EQ(strings_of(envelope["rcpt_tos"]), "bob@example.net,carol@example.org");
  EXPECT_NE(strings_of(envelope["mail_options"]).find("BODY=8BITMIME"), std::string::npos)
      << json::serialize(envelope);
  EXPECT_EQ(envelope["auth_user"], json::value(kUser));
  EXPECT_EQ(envelope["tls"], json::value(true));

  // The upstream's answer (with its queue id) in each recipient's line; no password in the log.
  for (const char* rcpt : {"bob@example.net", "carol@example.org"}) {
    auto line = wait_for_log_line(relay, {std::string("rcpt=") + rcpt, "upstream=relay-e2e", "result=delivered"});
    EXPECT_NE(line.find("queued as SINK1"), std::string::npos) << relay.log();
  }
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
  EXPECT_EQ(relay.log().find(kPassword), std::string::npos);
}

TEST_F(UpstreamSmtpRelay, FromModeAlwaysRewritesOnlyTheSenderFields) {
  Relay relay(options("always"));
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, kMessage, "BODY=8BITMIME")
                  .accepted());
  ASSERT_TRUE(wait_for_sink(1)) << relay.log();
  auto [received, rest] = split_first_field(sink_->message(1));
  EXPECT_EQ(header_value(rest, "From"), "Example Service <noreply@example.com>");
  EXPECT_EQ(header_values(rest, "Reply-To"), std::vector<std::string>{"support@example.com"});
  // Every other byte as sent.
  auto without_sender = [](std::string text) {
    for (const char* name : {"From: ", "Reply-To: "}) {
      auto at = text.find(std::string("\r\n") + name);
      if (text.starts_with(name)) at = 0;
      else if (at != std::string::npos) at += 2;
      if (at == std::string::npos) continue;
      text.erase(at, text.find("\r\n", at) + 2 - at);
    }
    return text;
  };
  EXPECT_EQ(without_sender(rest), without_sender(kMessage));
}

TEST_F(UpstreamSmtpRelay, FromModeMissingAddsFromAndReplyTo) {
  Relay relay(options("missing"));
  E2E_START_RELAY(relay);

  const std::string bare = "To: bob@example.net\r\nSubject: no sender fields\r\n\r\nbody\r\n";
  ASSERT_TRUE(send_message(relay.port(), "app@client.example", {"bob@example.net"}, bare).accepted());
  ASSERT_TRUE(wait_for_sink(1)) << relay.log();
  auto [received, rest] = split_first_field(sink_->message(1));
  EXPECT_EQ(header_value(rest, "From"), "Example Service <noreply@example.com>");
  EXPECT_EQ(header_values(rest, "Reply-To"), std::vector<std::string>{"support@example.com"});
  EXPECT_EQ(header_value(rest, "Subject"), "no sender fields");
  EXPECT_TRUE(rest.ends_with("\r\n\r\nbody\r\n")) << rest;
}

// A 4xx after DATA is retried; a 5xx for one recipient bounces it to the sender, from the null reverse-path
// (never from return_path: a bounce must not be answered by another bounce).
TEST(UpstreamSmtpRelayFailures, TemporaryRetriedPermanentBounced) {
  TempDir peer;
  FakeSmtpServer fake(peer.path(), R"({"rules": [
      {"cmd": "RCPT", "match": "gone@", "reply": "550 5.1.1 <gone@example.net>: Recipient address rejected"},
      {"cmd": "DATA_END", "once": true, "reply": "451 4.3.0 Temporary local problem, try again"}]})");
  RelayOptions o;
  o.upstream = smtp_upstream(fake.port(), "missing", false);
  Relay relay(o);
  ASSERT_TRUE(add_to_table(relay, "[queue]", "retry_schedule = [1]"));
  E2E_START_RELAY(relay);

  const std::string message =
      "From: Alice <alice@client.example>\r\nTo: bob@example.net, gone@example.net\r\nSubject: two\r\n\r\nhi\r\n";
  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net", "gone@example.net"}, message)
                  .accepted());
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=gone@example.net", "result=failed", "550 5.1.1"}).empty())
      << relay.log();
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=deferred", "451 4.3.0"}).empty())
      << relay.log();
  // bob is retried and delivered; the bounce for gone reaches alice.
  ASSERT_TRUE(wait_until([&] { return fake.messages().size() >= 3; }, 8s)) << relay.log();
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=delivered"}).empty()) << relay.log();

  const FakeMessage* retry = nullptr;
  const FakeMessage* bounce = nullptr;
  auto messages = fake.messages();
  for (std::size_t i = 1; i < messages.size(); ++i) {
    if (messages[i].mail_from.starts_with("MAIL FROM:<>")) bounce = &messages[i];
    else retry = &messages[i];
  }
  ASSERT_NE(retry, nullptr) << relay.log();
  ASSERT_NE(bounce, nullptr) << "the bounce must come from <>:\n" << relay.log();
  EXPECT_TRUE(retry->mail_from.starts_with("MAIL FROM:<bounces@example.com>")) << retry->mail_from;
  EXPECT_EQ(retry->rcpts, std::vector<std::string>{"RCPT TO:<bob@example.net>"});
  EXPECT_EQ(bounce->rcpts, std::vector<std::string>{"RCPT TO:<alice@client.example>"});
  EXPECT_NE(bounce->data.find("Final-Recipient: rfc822; gone@example.net"), std::string::npos) << bounce->data;
  EXPECT_NE(bounce->data.find("550 5.1.1"), std::string::npos) << bounce->data;
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
}

// When the upstream offers CHUNKING the message goes as one BDAT chunk (RFC 3030): byte for byte with only the
// relay's Received: line in front (dots not stuffed, 8-bit text and BODY=8BITMIME kept), the sender identity
// applied to the header section, and no DATA at all.
TEST(UpstreamSmtpRelayChunking, ByteExactInOneBdatChunk) {
  TempDir peer;
  FakeSmtpServer fake(peer.path(), R"({"ehlo": ["PIPELINING", "CHUNKING", "8BITMIME", "ENHANCEDSTATUSCODES"]})");
  RelayOptions o;
  o.upstream = smtp_upstream(fake.port(), "missing", false);
  Relay relay(o);
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, kMessage, "BODY=8BITMIME")
                  .accepted());
  ASSERT_TRUE(wait_until([&] { return fake.messages().size() == 1; }, 8s)) << relay.log();
  const FakeMessage received = fake.messages()[0];
  auto [trace_field, rest] = split_first_field(received.data);
  EXPECT_TRUE(trace_field.starts_with("Received: ")) << trace_field;
  EXPECT_EQ(rest, kMessage);
  EXPECT_NE(received.mail_from.find("BODY=8BITMIME"), std::string::npos) << received.mail_from;
  auto chunks = fake.events("bdat");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].at("size").as_int64(), static_cast<int64_t>(received.data.size()));
  EXPECT_TRUE(chunks[0].at("last").as_bool());
  auto commands = fake.commands();
  EXPECT_EQ(std::count(commands.begin(), commands.end(), std::string("DATA")), 0);
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=delivered", "queued as FAKE1"}).empty())
      << relay.log();
}

// The guide's advanced example as written: implicit TLS (use_ssl) with AUTH, the EHLO name from local_hostname,
// and debug_level = 2 tracing the dialogue into the log with the credentials masked.
TEST(UpstreamSmtpRelayImplicitTls, GuideAdvancedKeysOverImplicitTls) {
  TempDir peer;
  TestPki pki(peer.path() / "pki");
  FakeSmtpServer fake(peer.path(), R"({"implicit_tls": true, "tls_cert": ")" + pki.good + R"(", "tls_key": ")" +
                                       pki.key + R"(", "ehlo": ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                                       "AUTH PLAIN LOGIN"], "auth": {"user": "relay-user", "password": ")" +
                                       kPassword + R"("}})");
  RelayOptions o;
  std::string upstream = smtp_upstream(fake.port(), "missing");
  for (auto [from, to] : {std::pair<std::string, std::string>{"use_tls = true", "use_tls = false"},
                          {"use_ssl = false", "use_ssl = true"}, {"debug_level = 0", "debug_level = 2"}}) {
    auto at = upstream.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    upstream.replace(at, from.size(), to);
  }
  o.upstream = upstream;
  o.extra = "\n[security]\nverify_certificates = true\nca_file = \"" + pki.ca + "\"\n";
  Relay relay(o);
  E2E_START_RELAY(relay);

  const std::string message = "From: Alice <alice@client.example>\r\nTo: bob@example.net\r\nSubject: tls\r\n\r\nhi\r\n";
  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, message).accepted());
  ASSERT_TRUE(wait_until([&] { return fake.messages().size() == 1; }, 8s)) << relay.log();
  auto received = fake.messages()[0];
  EXPECT_TRUE(received.tls);
  EXPECT_TRUE(received.mail_from.starts_with("MAIL FROM:<bounces@example.com>")) << received.mail_from;
  auto commands = fake.commands();
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands[0], "EHLO relay-e2e.test");
  auto auth = fake.events("auth");
  ASSERT_EQ(auth.size(), 1u);
  EXPECT_EQ(auth[0].at("user"), json::value("relay-user"));
  EXPECT_EQ(auth[0].at("ok"), json::value(true));
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=delivered", "queued as FAKE1"}).empty())
      << relay.log();

  // The trace is there, and neither the password nor the AUTH payload that carries it.
  std::string log = relay.log();
  EXPECT_FALSE(log_line(relay, {"smtp upstream=relay-e2e", "EHLO relay-e2e.test"}).empty()) << log;
  EXPECT_FALSE(log_line(relay, {"smtp upstream=relay-e2e", "MAIL FROM:<bounces@example.com>"}).empty()) << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  for (const auto& c : commands) {
    if (!c.starts_with("AUTH ")) continue;
    auto payload = c.substr(c.rfind(' ') + 1);
    EXPECT_EQ(log.find(payload), std::string::npos) << "AUTH payload in the log: " << payload;
  }
}

}  // namespace
}  // namespace smarthost::test
