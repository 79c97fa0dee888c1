// Scenario: `smarthost validate` against an SMTP upstream (the scriptable fake, with STARTTLS and AUTH): every
// check passes with the right password and a test message arrives for --to; with a wrong password the
// credentials check fails clearly and the exit status says so; [validation] at start-up refuses to serve then.
#include <gtest/gtest.h>

#include "tests/support/process.h"
#include "tests/support/smtp_fake/fake_smtp_server.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

class ValidateSmtp : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(tmp_.path() / "pki");
    fake_ = std::make_unique<FakeSmtpServer>(
        tmp_.path() / "fake", R"({"ehlo": ["PIPELINING", "8BITMIME", "STARTTLS", "AUTH PLAIN LOGIN"], "tls_cert": ")" + pki_->good + R"(", "tls_key": ")" + pki_->key +
                                  R"(", "auth": {"user": "relay-user", "password": "right-password"}})");
  }

  std::filesystem::path config(const std::string& password, const std::string& extra = "") {
    return tmp_.write("smarthost.toml",
                      "provider = \"smtp\"\nname = \"relay\"\n[config]\nhost = \"127.0.0.1\"\nport = " +
                          std::to_string(fake_->port()) +
                          "\nuse_tls = true\nusername = \"relay-user\"\npassword = \"" + password +
                          "\"\nfrom_email = \"app@example.com\"\n[security]\nca_file = \"" + pki_->ca +
                          "\"\n[server]\nlisten = [\"127.0.0.1:" + std::to_string(free_port()) +
                          "\"]\n[queue]\ndir = \"" + (tmp_.path() / "queue").string() + "\"\n[metrics]\nlisten = " +
                          "\"127.0.0.1:" + std::to_string(free_port()) + "\"\n" + extra);
  }

  RunResult validate(const std::filesystem::path& cfg, std::vector<std::string> more = {}) {
    std::vector<std::string> argv{smarthost_bin().string(), "validate", "--config", cfg.string(), "--timeout", "5"};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, "", 60s);
  }

  TempDir tmp_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<FakeSmtpServer> fake_;
};

TEST_F(ValidateSmtp, PassesWithTheRightPasswordAndSendsTheTestMessage) {
  auto r = validate(config("right-password"), {"--to", "ops@example.net"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("relay  connection       ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relay  credentials      ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relay  send_test_email  ok    sent to ops@example.net"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all checks passed"), std::string::npos) << r.out;
  auto messages = fake_->messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_TRUE(messages[0].tls);
  ASSERT_EQ(messages[0].rcpts.size(), 1u);
  EXPECT_NE(messages[0].rcpts[0].find("ops@example.net"), std::string::npos);
  EXPECT_NE(messages[0].data.find("Subject: smarthost test message via relay"), std::string::npos);
}

TEST_F(ValidateSmtp, FailsClearlyWithAWrongPassword) {
  auto r = validate(config("wrong-password"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("relay  connection   ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relay  credentials  FAIL  refused: 535"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("some checks failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("wrong-password"), std::string::npos) << "the password was printed";
  EXPECT_TRUE(fake_->messages().empty());
}

TEST_F(ValidateSmtp, FailsClearlyWhenNothingListens) {
  auto cfg = config("right-password");
  std::string text = read_file(cfg);
  std::string port = "port = " + std::to_string(fake_->port());
  text.replace(text.find(port), port.size(), "port = " + std::to_string(free_port()));
  TempDir::write_to(cfg, text);
  auto r = validate(cfg);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("relay  connection   FAIL  451 4.4.1 smarthost: cannot connect"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not checked, upstream unreachable"), std::string::npos) << r.out;
}

TEST_F(ValidateSmtp, ValidationAtStartUpRefusesToServeWithBadCredentials) {
  auto cfg = config("wrong-password", "[validation]\nvalidate_credentials = true\ntest_connection = true\n");
  auto r = run({smarthost_bin().string(), "serve", "--config", cfg.string()}, "", 60s);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("validation: upstream=relay credentials FAILED"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cannot start: [validation] checks failed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smarthost::test
