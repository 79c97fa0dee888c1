// The scenarios every HTTP provider's end-to-end test runs the same way (tests/integration/upstream_*_test.cpp):
// temporary answers retried until delivered, a permanent refusal bounced to the sender through the same upstream,
// and the default API host reached when the config names no endpoint. Each provider's test file keeps its own
// checks of what the requests carry. Header-only; call the helpers under ASSERT_NO_FATAL_FAILURE.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/upstream_e2e.h"

namespace smarthost::test::e2e {

// `api` holds only temporary answers (queued with push_answer), then answers 2xx. The relay, on `upstream`,
// defers the message with `first_reason` in the log and `first_error` as the queue's last error, retries it every
// second, logs a deferral with each of `later_reasons`, and delivers it. `statuses` are what the fake answered,
// request by request, the last the success; `records` gets the requests.
inline void expect_retried_until_delivered(FakeProvider& api, const std::string& upstream, std::string_view message,
                                           const std::string& first_reason, const std::string& first_error,
                                           const std::vector<std::string>& later_reasons,
                                           const std::vector<int>& statuses, std::vector<FakeRecord>& records) {
  RelayOptions o;
  o.upstream = upstream;
  Relay relay(o);
  ASSERT_TRUE(add_to_table(relay, "[queue]", "retry_schedule = [1]"));
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, message).accepted());
  auto deferred = wait_for_log_line(relay, {"rcpt=bob@example.net", "result=deferred"});
  EXPECT_NE(deferred.find(first_reason), std::string::npos) << relay.log();
  // The queue keeps it, with the attempt and the answer recorded.
  boost::json::array queue;
  ASSERT_TRUE(wait_until([&] {
    queue = queue_entries(relay);
    return queue.size() == 1 && queue[0].as_object().at("attempts").as_int64() >= 1;
  })) << relay.log();
  EXPECT_EQ(queue[0].as_object().at("folder").as_string(), "active");
  EXPECT_NE(std::string(queue[0].as_object().at("last_error").as_string()).find(first_error), std::string::npos);

  const auto allowance = std::chrono::milliseconds(2000 + 1500 * statuses.size());  // one retry a second
  ASSERT_TRUE(api.wait_for_requests(statuses.size(), allowance)) << relay.log();
  for (const auto& reason : later_reasons) {
    EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=deferred", reason}).empty())
        << reason << "\n" << relay.log();
  }
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=delivered"}).empty()) << relay.log();
  EXPECT_TRUE(log_line(relay, {"rcpt=bob@example.net", "result=failed"}).empty()) << relay.log();
  records = api.records();
  ASSERT_EQ(records.size(), statuses.size());
  for (std::size_t i = 0; i < statuses.size(); ++i) EXPECT_EQ(records[i].status, statuses[i]) << "request " << i;
  EXPECT_TRUE(records.back().problems.empty()) << ::testing::PrintToString(records.back().problems);
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
}

// from_mode = "missing" through `upstream`: one message with a From (Subject "one"), then one without (Subject
// "two"), each waited for before the next; `with_from` and `without_from` are the requests they made, both
// well-formed, for the provider's own checks of the sender fields.
inline void deliver_with_and_without_from(FakeProvider& api, const std::string& upstream, FakeRecord& with_from,
                                          FakeRecord& without_from) {
  RelayOptions o;
  o.upstream = upstream;
  Relay relay(o);
  E2E_START_RELAY(relay);

  const std::string first =
      "From: Alice Sender <alice@client.example>\r\nTo: bob@example.net\r\nSubject: one\r\n\r\nfirst\r\n";
  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, first).accepted());
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();
  const std::string second = "To: bob@example.net\r\nSubject: two\r\n\r\nsecond\r\n";
  ASSERT_TRUE(send_message(relay.port(), "app@client.example", {"bob@example.net"}, second).accepted());
  ASSERT_TRUE(api.wait_for_requests(2)) << relay.log();

  auto records = api.records();
  ASSERT_EQ(records.size(), 2u);
  for (const auto& r : records) EXPECT_TRUE(r.problems.empty()) << ::testing::PrintToString(r.problems);
  with_from = records[0];
  without_from = records[1];
}

// `api` refuses the message for good with `refused_status` (queued with push_answer or fail_recipient). The relay
// logs the failure with `reason`, and sends the DSN to the sender through the same upstream; `bounce` is that
// second request, for the provider's own checks of its body. Nothing stays queued.
inline void expect_bounced(FakeProvider& api, const std::string& upstream, std::string_view message,
                           int refused_status, const std::string& reason, FakeRecord& bounce) {
  RelayOptions o;
  o.upstream = upstream;
  Relay relay(o);
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, message).accepted());
  ASSERT_TRUE(api.wait_for_requests(2)) << relay.log();
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=failed", reason}).empty()) << relay.log();
  EXPECT_FALSE(log_line(relay, {"bounce qid=", "to=<alice@client.example>"}).empty()) << relay.log();
  auto records = api.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].status, refused_status);
  bounce = records[1];
  EXPECT_GE(bounce.status, 200);
  EXPECT_LT(bounce.status, 300);
  EXPECT_TRUE(bounce.problems.empty()) << ::testing::PrintToString(bounce.problems);
  // Nothing is left behind: the refused message was bounced, the bounce delivered.
  EXPECT_TRUE(wait_until([&] { return queue_entries(relay).empty(); })) << relay.log();
}

// With no `endpoint` in `upstream`, the relay reaches https://`host`:443: a CONNECT proxy (https_proxy) takes the
// connection to a TLS fake of `kind` holding a certificate for `host`, trusted through security.ca_file.
// `request` is the one request it received.
inline void expect_default_host(FakeKind kind, const FakeCredentials& credentials, const std::string& host,
                                const std::function<std::string()>& upstream, std::string_view message,
                                FakeRecord& request) {
  TempDir tls_dir;
  auto cert = tls_dir.path() / "api.pem";
  auto key = tls_dir.path() / "api.key";
  ASSERT_TRUE(make_test_certificate(cert, key, host));
  FakeTls tls{cert.string(), key.string()};
  FakeProvider api(kind, credentials, 0, &tls);
  ConnectProxy proxy(tls_dir.path(), api.port());
  ASSERT_NE(proxy.port(), 0);
  RelayOptions o;
  o.upstream = upstream();
  o.extra = "\n[security]\nca_file = \"" + cert.string() + "\"\n";
  o.env = {{"https_proxy", proxy.url()}, {"no_proxy", ""}, {"NO_PROXY", ""}};
  Relay relay(o);
  E2E_START_RELAY(relay);

  ASSERT_TRUE(send_message(relay.port(), "alice@client.example", {"bob@example.net"}, message).accepted());
  ASSERT_TRUE(api.wait_for_requests(1)) << relay.log();
  EXPECT_EQ(proxy.hosts(), std::vector<std::string>{host + ":443"});
  auto records = api.records();
  ASSERT_EQ(records.size(), 1u);
  request = records[0];
  EXPECT_TRUE(request.problems.empty()) << ::testing::PrintToString(request.problems);
  EXPECT_EQ(request.exchange.header("Host"), host);
  EXPECT_FALSE(wait_for_log_line(relay, {"rcpt=bob@example.net", "result=delivered"}).empty()) << relay.log();
}

}  // namespace smarthost::test::e2e
