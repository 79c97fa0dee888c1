// The SMTP transport's probe against the scriptable fake server: connect, EHLO, STARTTLS, AUTH and QUIT on a
// session of its own, never a message; bad credentials, a bad certificate and a dead server fail with the reason.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "tests/support/process.h"
#include "tests/support/smtp_fake/delivery_harness.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/ops/ops_fakes.h"
#include "upstream/smtp/smtp_transport.h"

namespace smarthost::upstream::smtp {
namespace {

using namespace std::chrono_literals;

class SmtpProbe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new smarthost::test::TempDir();
    pki_ = new smarthost::test::TestPki(pki_dir_->path() / "pki");
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
  }
  std::string tls_scenario(const std::string& cert, const std::string& password = "p") {
    return "{\"ehlo\": [\"PIPELINING\", \"STARTTLS\", \"AUTH PLAIN LOGIN\"], \"tls_cert\": \"" + cert +
           "\", \"tls_key\": \"" + pki_->key + "\", \"auth\": {\"user\": \"u\", \"password\": \"" + password + "\"}}";
  }
  conf::Upstream upstream(uint16_t port) {
    conf::Upstream u = smarthost::test::smtp_upstream(port);
    smarthost::test::smtp_of(u).use_tls = true;
    smarthost::test::smtp_of(u).username = "u";
    smarthost::test::smtp_of(u).password = "p";
    return u;
  }
  conf::SecurityConfig security() {
    conf::SecurityConfig s;
    s.ca_file = pki_->ca;
    return s;
  }
  std::vector<std::string> verbs(const smarthost::test::FakeSmtpServer& fake) {
    std::vector<std::string> out;
    for (const auto& c : fake.commands()) out.push_back(c.substr(0, c.find(' ')));
    return out;
  }
  ProbeResult probe(SmtpTransport& t, std::chrono::milliseconds timeout = 5s) {
    return ops::test::run(io_, t.probe(timeout));
  }

  static smarthost::test::TempDir* pki_dir_;
  static smarthost::test::TestPki* pki_;
  smarthost::test::TempDir dir_;
  boost::asio::io_context io_;
};

smarthost::test::TempDir* SmtpProbe::pki_dir_ = nullptr;
smarthost::test::TestPki* SmtpProbe::pki_ = nullptr;

TEST_F(SmtpProbe, EhloStarttlsAuthQuitAndNoMail) {
  smarthost::test::FakeSmtpServer fake(dir_.path() / "fake", tls_scenario(pki_->good));
  SmtpTransport transport(upstream(fake.port()), security(), {}, {}, "relay.test", io_.get_executor());
  auto r = probe(transport);
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "127.0.0.1:" + std::to_string(fake.port()) + " EHLO, STARTTLS, AUTH ok");
  EXPECT_EQ(verbs(fake), (std::vector<std::string>{"EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"}));
  auto auth = fake.events("auth");
  ASSERT_EQ(auth.size(), 1u);
  EXPECT_TRUE(auth[0].at("ok").as_bool());
  EXPECT_TRUE(fake.messages().empty());
}

TEST_F(SmtpProbe, EachProbeOpensItsOwnSession) {
  smarthost::test::FakeSmtpServer fake(dir_.path() / "fake", tls_scenario(pki_->good));
  SmtpTransport transport(upstream(fake.port()), security(), {}, {}, "relay.test", io_.get_executor());
  EXPECT_TRUE(probe(transport).ok);
  EXPECT_TRUE(probe(transport).ok);
  EXPECT_EQ(fake.connections(), 2);
  EXPECT_EQ(transport.pool_stats().opened, 0u) << "probes never touch the delivery pool";
}

TEST_F(SmtpProbe, BadCredentialsFailWithTheReply) {
  smarthost::test::FakeSmtpServer fake(dir_.path() / "fake", tls_scenario(pki_->good, "other"));
  SmtpTransport transport(upstream(fake.port()), security(), {}, {}, "relay.test", io_.get_executor());
  auto r = probe(transport);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("535 5.7.8"), std::string::npos) << r.detail;
}

TEST_F(SmtpProbe, ExpiredCertificateFails) {
  smarthost::test::FakeSmtpServer fake(dir_.path() / "fake", tls_scenario(pki_->expired));
  SmtpTransport transport(upstream(fake.port()), security(), {}, {}, "relay.test", io_.get_executor());
  auto r = probe(transport);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("expired"), std::string::npos) << r.detail;
  for (const auto& v : verbs(fake)) EXPECT_NE(v, "AUTH") << "no credentials over an untrusted channel";
}

TEST_F(SmtpProbe, NobodyListeningFails) {
  int port = smarthost::test::free_port();
  SmtpTransport transport(upstream(static_cast<uint16_t>(port)), security(), {}, {}, "relay.test",
                          io_.get_executor());
  auto r = probe(transport);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("cannot connect"), std::string::npos) << r.detail;
}

TEST_F(SmtpProbe, SlowGreetingFailsWithinTheTimeout) {
  smarthost::test::FakeSmtpServer fake(dir_.path() / "fake",
                                       R"({"rules": [{"cmd": "GREETING", "delay": 3}]})");
  SmtpTransport transport(smarthost::test::smtp_upstream(fake.port()), {}, {}, {}, "relay.test", io_.get_executor());
  auto started = std::chrono::steady_clock::now();
  auto r = probe(transport, 500ms);
  EXPECT_FALSE(r.ok);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2500ms) << r.detail;
}

}  // namespace
}  // namespace smarthost::upstream::smtp
