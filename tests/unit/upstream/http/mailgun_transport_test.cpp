// The Mailgun transport against the fake Mailgun: messages.mime with every envelope recipient, the configured
// options, header handling, splitting, limits and every kind of failure.
#include "upstream/http/mailgun_transport.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>

#include <algorithm>
#include <optional>

#include "tests/unit/upstream/http/corpus.h"
#include "tests/unit/upstream/http/transport_harness.h"

namespace smarthost::upstream::http {
namespace {

using namespace std::chrono_literals;
using test::FakeKind;
using test::FakeProvider;

const std::string kMessage =
    "From: Alice <alice@example.com>\r\n"
    "To: bob@example.net\r\n"
    "Cc: carol@example.net\r\n"
    "Bcc: secret@example.net\r\n"
    "Subject: Hello\r\n"
    "X-Mailgun-Variables: {\"injected\": true}\r\n"
    "X-Campaign: spring\r\n"
    "\r\n"
    "Body line.\r\n";

class MailgunTransportTest : public ::testing::Test {
 protected:
  MailgunTransport make(const conf::Upstream& u, HttpTransportOptions options = {}, conf::TestModeConfig tm = {}) {
    return MailgunTransport(u, conf::SecurityConfig{}, tm, h_.client, std::move(options));
  }
  test::TransportHarness h_;
  FakeProvider fake_{FakeKind::mailgun};
};

TEST_F(MailgunTransportTest, SendsTheRawMessageToEveryEnvelopeRecipient) {
  auto u = test::upstream_for(fake_);
  auto& config = std::get<conf::MailgunConfig>(u.config);
  config.tags = {"chatapi", "notifications"};
  config.tracking = {true, false, true};
  config.custom_variables = {{"environment", "\"production\""}, {"build", "42"}};
  auto transport = make(u);
  auto message = h_.spool(kMessage, {"bob@example.net", "carol@example.net", "secret@example.net"});
  auto result = h_.deliver(transport, message);

  EXPECT_EQ(result.outcome, Outcome::delivered) << result.reply;
  ASSERT_EQ(result.recipients.size(), 3u);
  for (const auto& r : result.recipients) EXPECT_EQ(r.outcome, Outcome::delivered);
  EXPECT_TRUE(result.remote_id.starts_with("<")) << result.remote_id;
  EXPECT_TRUE(result.remote_id.ends_with("@mg.example.com>"));
  ASSERT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(test::problems_of(fake_), "");
  auto record = fake_.records()[0];
  EXPECT_EQ(test::form_values(record, "to"),
            (std::vector<std::string>{"bob@example.net", "carol@example.net", "secret@example.net"}));
  EXPECT_EQ(test::form_values(record, "o:tag"), (std::vector<std::string>{"chatapi", "notifications"}));
  EXPECT_EQ(test::form_values(record, "o:tracking-opens"), std::vector<std::string>{"yes"});
  EXPECT_EQ(test::form_values(record, "o:tracking-clicks"), std::vector<std::string>{"no"});
  EXPECT_EQ(test::form_values(record, "o:tracking-unsubscribes"), std::vector<std::string>{"yes"});
  EXPECT_EQ(test::form_values(record, "v:environment"), std::vector<std::string>{"\"production\""});
  EXPECT_EQ(test::form_values(record, "v:build"), std::vector<std::string>{"42"});
  EXPECT_TRUE(test::form_values(record, "o:testmode").empty());
  // The raw message: Bcc and the client's control header gone, everything else byte for byte.
  EXPECT_EQ(record.raw_message,
            "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nCc: carol@example.net\r\nSubject: Hello\r\n"
            "X-Campaign: spring\r\n\r\nBody line.\r\n");
}

TEST_F(MailgunTransportTest, EachAddressOnce) {
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net", "BOB@example.net", "carol@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  ASSERT_EQ(result.recipients.size(), 3u);
  EXPECT_EQ(result.recipients[1].outcome, Outcome::delivered);
  EXPECT_EQ(test::form_values(fake_.records().at(0), "to"),
            (std::vector<std::string>{"bob@example.net", "carol@example.net"}));
}

TEST_F(MailgunTransportTest, TestModeAddsTestmode) {
  conf::TestModeConfig tm;
  tm.enabled = true;
  auto transport = make(test::upstream_for(fake_), {}, tm);
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  EXPECT_EQ(test::form_values(fake_.records().at(0), "o:testmode"), std::vector<std::string>{"yes"});
}

TEST_F(MailgunTransportTest, ControlHeadersPassWhenAllowed) {
  test::FakeCredentials credentials;
  credentials.allow_control_headers = true;
  FakeProvider lenient(FakeKind::mailgun, credentials);
  HttpTransportOptions options;
  options.allow_control_headers = true;
  auto transport = MailgunTransport(test::upstream_for(lenient), {}, {}, h_.client, options);
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::delivered);
  EXPECT_NE(lenient.records().at(0).raw_message.find("X-Mailgun-Variables:"), std::string::npos);
  EXPECT_EQ(lenient.records().at(0).raw_message.find("Bcc:"), std::string::npos);
}

TEST_F(MailgunTransportTest, FromModeAlwaysRewritesTheSender) {
  auto u = test::upstream_for(fake_);
  u.common.from_email = "noreply@mg.example.com";
  u.common.from_name = "Our Service";
  u.common.from_mode = conf::FromMode::always;
  auto transport = make(u);
  EXPECT_EQ(h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"})).outcome, Outcome::delivered);
  auto raw = fake_.records().at(0).raw_message;
  EXPECT_NE(raw.find("From: Our Service <noreply@mg.example.com>\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Reply-To: Alice <alice@example.com>\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("From: Alice"), std::string::npos);
}

TEST_F(MailgunTransportTest, DefaultUrlsFollowTheRegion) {
  auto u = test::upstream_for(fake_);
  u.common.endpoint.clear();
  EXPECT_EQ(make(u).url(), "https://api.mailgun.net/v3/mg.example.com/messages.mime");
  std::get<conf::MailgunConfig>(u.config).region = "eu";
  EXPECT_EQ(make(u).url(), "https://api.eu.mailgun.net/v3/mg.example.com/messages.mime");
  u.common.endpoint = "http://127.0.0.1:1/";
  EXPECT_EQ(make(u).url(), "http://127.0.0.1:1/v3/mg.example.com/messages.mime");
}

TEST_F(MailgunTransportTest, SplitsLargeEnvelopes) {
  std::vector<std::string> recipients;
  for (int i = 0; i < 2500; ++i) recipients.push_back("user" + std::to_string(i) + "@example.net");
  auto transport = make(test::upstream_for(fake_));
  auto result = h_.deliver(transport, h_.spool(kMessage, recipients));
  EXPECT_EQ(result.outcome, Outcome::delivered);
  ASSERT_EQ(fake_.request_count(), 3u);
  auto records = fake_.records();
  EXPECT_EQ(test::form_values(records[0], "to").size(), 1000u);
  EXPECT_EQ(test::form_values(records[1], "to").size(), 1000u);
  EXPECT_EQ(test::form_values(records[2], "to").size(), 500u);
  EXPECT_EQ(test::form_values(records[2], "to").back(), "user2499@example.net");
  EXPECT_EQ(test::problems_of(fake_), "");
}

TEST_F(MailgunTransportTest, StopsAfterAFailedPart) {
  HttpTransportOptions options;
  options.limits = MailgunTransport::default_limits();
  options.limits->max_recipients_per_call = 2;
  auto transport = make(test::upstream_for(fake_), options);
  fake_.push_answer(fake_.throttled(30));
  auto before = std::chrono::system_clock::now();
  auto result = h_.deliver(transport, h_.spool(kMessage, {"a@x.net", "b@x.net", "c@x.net", "d@x.net", "e@x.net"}));
  EXPECT_EQ(fake_.request_count(), 1u);
  EXPECT_EQ(result.outcome, Outcome::temporary);
  EXPECT_TRUE(result.throttled);
  ASSERT_TRUE(result.retry_after);
  EXPECT_GE(*result.retry_after, before + 29s);
  for (const auto& r : result.recipients) EXPECT_EQ(r.outcome, Outcome::temporary) << r.address;
  EXPECT_NE(result.recipients[4].reply.find("not attempted"), std::string::npos);
}

TEST_F(MailgunTransportTest, RefusesOversizeMessagesBeforeSending) {
  HttpTransportOptions options;
  options.limits = MailgunTransport::default_limits();
  options.limits->max_message_bytes = 100;
  auto transport = make(test::upstream_for(fake_), options);
  auto result = h_.deliver(transport, h_.spool(kMessage + std::string(200, 'x'), {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::permanent);
  EXPECT_NE(result.reply.find("too large for mailgun"), std::string::npos) << result.reply;
  EXPECT_EQ(fake_.request_count(), 0u);
}

struct FailureRow {
  const char* name;
  test::FakeAnswer answer;
  Outcome outcome;
  bool unhealthy;
  bool throttled;
};

TEST_F(MailgunTransportTest, ClassifiesEveryKindOfFailure) {
  auto u = test::upstream_for(fake_);
  u.options.timeout = 1s;
  auto transport = make(u);
  std::vector<FailureRow> rows{
      {"throttled", fake_.throttled(5), Outcome::temporary, false, true},
      {"server error", fake_.server_error(), Outcome::temporary, true, false},
      {"bad credentials", fake_.bad_credentials(), Outcome::upstream_refused, false, false},
      {"rejected", fake_.rejected("'to' parameter is not a valid address"), Outcome::permanent, false, false},
      {"slow", FakeProvider::slow(3s), Outcome::temporary, true, false},
      {"dropped", FakeProvider::dropped(), Outcome::temporary, true, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    fake_.push_answer(row.answer);
    auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
    EXPECT_EQ(result.outcome, row.outcome) << result.reply;
    EXPECT_EQ(result.upstream_unhealthy, row.unhealthy);
    EXPECT_EQ(result.throttled, row.throttled);
    EXPECT_EQ(result.recipients.at(0).outcome, row.outcome);
    EXPECT_FALSE(result.reply.empty());
  }
  auto rejected = fake_.rejected("'to' parameter is not a valid address");
  fake_.push_answer(rejected);
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(result.reply, "HTTP 400: 'to' parameter is not a valid address");
}

TEST_F(MailgunTransportTest, RefusesUnsafeConfiguration) {
  auto u = test::upstream_for(fake_);
  std::get<conf::MailgunConfig>(u.config).tags = {"ok", "bad\r\nX-Injected: 1"};
  EXPECT_THROW(make(u), std::invalid_argument);
  u = test::upstream_for(fake_);
  std::get<conf::MailgunConfig>(u.config).api_key = "key\n";
  EXPECT_THROW(make(u), std::invalid_argument);
  u = test::upstream_for(fake_);
  u.common.from_name = "Evil\r\nBcc: x@y.z";
  EXPECT_THROW(make(u), std::invalid_argument);
  u = test::upstream_for(fake_);
  std::get<conf::MailgunConfig>(u.config).custom_variables = {{"big", std::string(17000, 'x')}};
  EXPECT_THROW(make(u), std::invalid_argument);
  u = test::upstream_for(fake_);
  std::get<conf::MailgunConfig>(u.config).domain = "";
  EXPECT_THROW(make(u), std::invalid_argument);
}

TEST_F(MailgunTransportTest, CorpusMessagesGoThroughUntouched) {
  auto transport = make(test::upstream_for(fake_));
  for (const char* name : {"plain.eml", "attachments.eml", "latin1_subject.eml", "malformed_no_boundary.eml"}) {
    auto content = test::corpus_message(name);
    auto result = h_.deliver(transport, h_.spool(content, {"reader@example.net"}));
    EXPECT_EQ(result.outcome, Outcome::delivered) << name << ": " << result.reply;
    EXPECT_EQ(fake_.records().back().raw_message, content) << name;
  }
  EXPECT_EQ(test::problems_of(fake_), "");
}

// Large messages wait for the payload budget instead of all being held at once: with room for one, three parallel
// deliveries reach the provider one after the other, and all three are delivered.
TEST_F(MailgunTransportTest, ParallelLargeMessagesTakeTurnsWithinThePayloadBudget) {
  std::string big = kMessage + std::string(300 * 1024, 'x') + "\r\n";
  HttpTransportOptions options;
  // One 300 KiB message's estimate (1.25 x 300 KiB + 256 KiB) fits, two do not.
  options.budget = std::make_shared<PayloadBudget>(1000 * 1024);
  auto budget = options.budget;
  auto transport = make(test::upstream_for(fake_), std::move(options));
  for (int i = 0; i < 3; ++i) fake_.push_answer(FakeProvider::slow(150ms));
  std::vector<std::optional<DeliveryResult>> results(3);
  std::vector<OutboundMessage> messages;  // outlive the deliveries, which hold them by reference
  for (int i = 0; i < 3; ++i) messages.push_back(h_.spool(big, {"bob@example.net"}));
  for (int i = 0; i < 3; ++i) {
    boost::asio::co_spawn(h_.io, transport.deliver(messages[i]), [&results, i](std::exception_ptr e, DeliveryResult r) {
      if (!e) results[i] = std::move(r);
    });
  }
  std::size_t most_waiting = 0;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::any_of(results.begin(), results.end(), [](const auto& r) { return !r; }) &&
         std::chrono::steady_clock::now() < until) {
    h_.io.run_one_for(20ms);
    most_waiting = std::max(most_waiting, budget->waiting());
    EXPECT_LE(budget->in_use(), 1000u * 1024);
  }
  for (const auto& r : results) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->outcome, Outcome::delivered) << r->reply;
  }
  EXPECT_EQ(most_waiting, 2u);
  EXPECT_EQ(fake_.request_count(), 3u);
  EXPECT_EQ(test::problems_of(fake_), "");
  EXPECT_EQ(budget->in_use(), 0u);
}

// A delivery that cannot get memory within the longest wait is deferred (temporary) and says why.
TEST_F(MailgunTransportTest, ADeliveryThatWaitsTooLongForMemoryIsDeferred) {
  HttpTransportOptions options;
  options.budget = std::make_shared<PayloadBudget>(1 << 20);
  options.max_budget_wait = 100ms;
  auto held = options.budget->try_reserve(1 << 20);  // everything taken by someone else
  auto transport = make(test::upstream_for(fake_), std::move(options));
  auto result = h_.deliver(transport, h_.spool(kMessage, {"bob@example.net"}));
  EXPECT_EQ(result.outcome, Outcome::temporary);
  EXPECT_NE(result.reply.find("max_payload_memory"), std::string::npos) << result.reply;
  EXPECT_FALSE(result.upstream_unhealthy);
  EXPECT_EQ(fake_.request_count(), 0u);
}

}  // namespace
}  // namespace smarthost::upstream::http
