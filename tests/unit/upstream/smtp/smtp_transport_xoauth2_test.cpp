// XOAUTH2 end to end: a local fake token endpoint issues tokens, the fake server checks the bearer string.
// Covers the refresh after a refused token, the cache, the expiry (with an injected clock) and a failing endpoint.
#include <gtest/gtest.h>

#include <chrono>

#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/upstream/smtp/fake_relay_fixture.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

using namespace std::chrono_literals;

class Xoauth2 : public PkiSuite {
 protected:

  std::string scenario(const std::string& reject, int expires_in) {
    return R"({"ehlo": ["PIPELINING", "8BITMIME", "STARTTLS", "AUTH LOGIN PLAIN XOAUTH2"],
               "tls_cert": ")" + pki_->good + R"(", "tls_key": ")" + pki_->key + R"(",
               "xoauth2": {"user": "me@mail.test", "reject": [)" + reject + R"(]},
               "token_endpoint": {"refresh_token": "rt-1", "expires_in": )" + std::to_string(expires_in) + "}}";
  }
  conf::AuthenticationConfig authentication(const test::FakeSmtpServer& fake, const std::string& refresh_token) {
    conf::AuthenticationConfig a;
    a.type = "oauth2";
    a.client_id = "client id/1";
    a.client_secret = "s3cr&t";
    a.refresh_token = refresh_token;
    a.token_url = "http://127.0.0.1:" + std::to_string(fake.token_port()) + "/token";
    return a;
  }
  conf::Upstream upstream(const test::FakeSmtpServer& fake) {
    conf::Upstream u = test::smtp_upstream(fake.port());
    test::smtp_of(u).use_tls = true;
    test::smtp_of(u).username = "me@mail.test";
    test::smtp_of(u).debug_level = 1;
    return u;
  }
  conf::SecurityConfig security() {
    conf::SecurityConfig s;
    s.ca_file = pki_->ca;
    return s;
  }
  OutboundMessage message() {
    return test::queued_message(dir_.path() / "spool", "Q" + std::to_string(++counter_), "Subject: x\r\n\r\nx\r\n",
                                "me@mail.test", {"dest@example.net"});
  }
  std::vector<std::string> bearer_tokens(const test::FakeSmtpServer& fake) {
    std::vector<std::string> out;
    for (const auto& e : fake.events("auth")) {
      out.push_back(std::string(e.at("token").as_string()) + (e.at("ok").as_bool() ? ":ok" : ":refused"));
    }
    return out;
  }

  test::TempDir dir_;
  boost::asio::io_context io_;
  int counter_ = 0;
};

TEST_F(Xoauth2, RefusedTokenIsRefreshedOnceAndRetried) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario(R"("tok-1")", 3600));
  SmtpTransport transport(upstream(fake), security(), {}, authentication(fake, "rt-1"), "relay.test",
                          io_.get_executor());
  DeliveryResult r = test::run_to_completion(io_, transport.deliver(message()));
  EXPECT_EQ(r.outcome, Outcome::delivered) << r.reply;
  EXPECT_EQ(bearer_tokens(fake), (std::vector<std::string>{"tok-1:refused", "tok-2:ok"}));
  auto requests = fake.events("token_request");
  ASSERT_EQ(requests.size(), 2u);
  const auto& form = requests[0].at("form").as_object();
  EXPECT_EQ(form.at("grant_type").as_string(), "refresh_token");
  EXPECT_EQ(form.at("client_id").as_string(), "client id/1");
  EXPECT_EQ(form.at("client_secret").as_string(), "s3cr&t");
  EXPECT_EQ(form.at("refresh_token").as_string(), "rt-1");
  ASSERT_EQ(fake.messages().size(), 1u);
  EXPECT_TRUE(fake.messages()[0].tls);
}

TEST_F(Xoauth2, TokenIsCachedUntilShortlyBeforeItExpires) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario("", 3600));
  auto now = std::chrono::steady_clock::now();
  SmtpTransportHooks hooks;
  hooks.clock = [&now] { return now; };
  conf::ConnectionPoolConfig no_idle;
  no_idle.max_idle_connections = 0;  // every delivery opens a session and authenticates again
  SmtpTransport transport(upstream(fake), security(), no_idle, authentication(fake, "rt-1"), "relay.test",
                          io_.get_executor(), hooks);
  EXPECT_EQ(test::run_to_completion(io_, transport.deliver(message())).outcome, Outcome::delivered);
  now += 3000s;  // still fresh
  EXPECT_EQ(test::run_to_completion(io_, transport.deliver(message())).outcome, Outcome::delivered);
  now += 500s;  // within the refresh margin before the 3600 s expiry
  EXPECT_EQ(test::run_to_completion(io_, transport.deliver(message())).outcome, Outcome::delivered);
  EXPECT_EQ(bearer_tokens(fake), (std::vector<std::string>{"tok-1:ok", "tok-1:ok", "tok-2:ok"}));
  EXPECT_EQ(fake.events("token_request").size(), 2u);
  EXPECT_EQ(fake.connections(), 3);
}

TEST_F(Xoauth2, FailingTokenEndpointIsTemporaryAndSendsNoAuth) {
  test::FakeSmtpServer fake(dir_.path() / "fake", scenario("", 3600));
  SmtpTransport transport(upstream(fake), security(), {}, authentication(fake, "revoked"), "relay.test",
                          io_.get_executor());
  DeliveryResult r = test::run_to_completion(io_, transport.deliver(message()));
  EXPECT_EQ(r.outcome, Outcome::temporary);
  EXPECT_NE(r.reply.find("invalid_grant"), std::string::npos) << r.reply;
  EXPECT_TRUE(fake.events("auth").empty());
  EXPECT_EQ(fake.connections(), 0);  // no session is opened without a token
}

}  // namespace
}  // namespace smarthost::upstream::smtp
