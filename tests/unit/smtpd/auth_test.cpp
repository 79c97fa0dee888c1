// AUTH PLAIN and LOGIN exchanges (RFC 4954): initial responses, "=" and "*", bad base64, failures that all look
// the same, sequence rules, and credentials that never appear in a reply.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "smtpd/command.h"
#include "smtpd/session.h"
#include "tests/unit/smtpd/session_fixture.h"

namespace smarthost::smtpd::test {
namespace {

const std::string kFailure = "535 5.7.8 Error: authentication failed\r\n";
const std::string kSuccess = "235 2.7.0 Authentication successful\r\n";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_.passwords["user"] = "secret";
    start(test_settings());
  }
  void start(SessionSettings settings) {
    session_ = std::make_unique<Session>(std::move(settings), policy_, loopback_client());
    driver_ = std::make_unique<Driver>(*session_);
    driver_->greet();
    driver_->input("EHLO client.test\r\nSTARTTLS\r\n");
    driver_->input("EHLO client.test\r\n");
  }
  std::string line(const std::string& text) {
    const size_t before = driver_->replies.size();
    driver_->input(text + "\r\n");
    return driver_->replies.size() > before ? driver_->replies.back() : std::string();
  }
  static std::string b64(const std::string& s) { return encode_base64(s); }

  FakePolicy policy_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Driver> driver_;
};

TEST_F(AuthTest, PlainWithInitialResponse) {
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("\0user\0secret", 12))), kSuccess);
  EXPECT_EQ(session_->auth_user(), "user");
  EXPECT_EQ(policy_.seen_passwords.back(), "secret");
  line("MAIL FROM:<a@example.com>");
  EXPECT_EQ(session_->envelope().auth_user, "user");
}

TEST_F(AuthTest, PlainWithMatchingAuthzid) {
  EXPECT_EQ(line("auth plain " + b64(std::string("user\0user\0secret", 16))), kSuccess);
}

TEST_F(AuthTest, PlainWithOtherAuthzidFails) {
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("admin\0user\0secret", 17))), kFailure);
  EXPECT_EQ(session_->auth_user(), "");
}

TEST_F(AuthTest, PlainWithoutInitialResponse) {
  EXPECT_EQ(line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(line(b64(std::string("\0user\0secret", 12))), kSuccess);
}

TEST_F(AuthTest, PlainEqualsSignIsAnEmptyResponse) {
  EXPECT_EQ(line("AUTH PLAIN ="), kFailure);
  EXPECT_TRUE(policy_.seen_passwords.empty());  // nothing to check
}

TEST_F(AuthTest, PlainMalformedPayloadFailsTheSameWay) {
  EXPECT_EQ(line("AUTH PLAIN " + b64("usersecret")), kFailure);
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("\0user\0secret\0x", 14))), kFailure);
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("\0\0secret", 8))), kFailure);
}

TEST_F(AuthTest, WrongPasswordAndUnknownUserLookAlike) {
  const std::string wrong = line("AUTH PLAIN " + b64(std::string("\0user\0nope", 10)));
  const std::string unknown = line("AUTH PLAIN " + b64(std::string("\0ghost\0secret", 13)));
  EXPECT_EQ(wrong, kFailure);
  EXPECT_EQ(unknown, kFailure);
}

TEST_F(AuthTest, LoginExchange) {
  EXPECT_EQ(line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(line(b64("user")), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(line(b64("secret")), kSuccess);
  EXPECT_EQ(session_->auth_user(), "user");
}

TEST_F(AuthTest, LoginWithInitialResponse) {
  EXPECT_EQ(line("AUTH LOGIN " + b64("user")), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(line(b64("wrong")), kFailure);
}

TEST_F(AuthTest, StarCancelsAtEachStep) {
  EXPECT_EQ(line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(line("*"), "501 5.0.0 Authentication cancelled\r\n");
  EXPECT_EQ(line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(line(b64("user")), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(line("*"), "501 5.0.0 Authentication cancelled\r\n");
  EXPECT_EQ(line("NOOP"), "250 2.0.0 Ok\r\n");  // back to commands
}

TEST_F(AuthTest, BadBase64) {
  EXPECT_EQ(line("AUTH PLAIN not*base64"), "501 5.5.2 Error: invalid base64 data\r\n");
  EXPECT_EQ(line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(line("%%%"), "501 5.5.2 Error: invalid base64 data\r\n");
  EXPECT_EQ(line("NOOP"), "250 2.0.0 Ok\r\n");
}

TEST_F(AuthTest, ContinuationLinesAreNotCommands) {
  EXPECT_EQ(line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  // "QUIT" is valid base64 (three octets): it is a user name here, never a command.
  EXPECT_EQ(line("QUIT"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_FALSE(driver_->closed);
}

TEST_F(AuthTest, LongContinuationLineAbortsTheExchange) {
  EXPECT_EQ(line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(line(std::string(600, 'A')), "500 5.5.6 Error: line too long\r\n");
  EXPECT_EQ(line("NOOP"), "250 2.0.0 Ok\r\n");
}

TEST_F(AuthTest, SequenceRules) {
  EXPECT_EQ(line("AUTH DIGEST-MD5"), "504 5.5.4 Unsupported authentication mechanism\r\n");
  EXPECT_EQ(line("AUTH PLAIN a b"), "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
  line("MAIL FROM:<a@example.com>");
  EXPECT_EQ(line("AUTH PLAIN"), "503 5.5.1 Error: MAIL transaction in progress\r\n");
  line("RSET");
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("\0user\0secret", 12))), kSuccess);
  EXPECT_EQ(line("AUTH PLAIN " + b64(std::string("\0user\0secret", 12))), "503 5.5.1 Error: already authenticated\r\n");
}

TEST_F(AuthTest, NeedsEhloNotHelo) {
  driver_->input("HELO client.test\r\n");
  EXPECT_EQ(line("AUTH PLAIN"), "503 5.5.1 Error: send EHLO first\r\n");
}

TEST_F(AuthTest, FailuresCountTowardTheErrorLimit) {
  SessionSettings s = test_settings();
  s.max_errors = 3;
  start(s);
  line("AUTH PLAIN " + b64(std::string("\0user\0a", 7)));
  line("AUTH PLAIN " + b64(std::string("\0user\0b", 7)));
  const std::string last = line("AUTH PLAIN " + b64(std::string("\0user\0c", 7)));
  EXPECT_EQ(last, kFailure + "421 4.7.0 mx.test Error: too many errors\r\n");
  EXPECT_TRUE(driver_->closed);
}

TEST_F(AuthTest, CredentialsNeverAppearInReplies) {
  line("AUTH PLAIN " + b64(std::string("\0user\0secret", 12)));
  line("AUTH LOGIN " + b64("user"));
  line(b64("hunter2"));
  for (const auto& reply : driver_->replies) {
    EXPECT_EQ(reply.find("secret"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("hunter2"), std::string::npos) << reply;
    EXPECT_EQ(reply.find(b64("user")), std::string::npos) << reply;
    EXPECT_EQ(reply.find("AHVzZXIAc2VjcmV0"), std::string::npos) << reply;
  }
}

TEST(AuthWithoutTls, Needs538UnlessPlaintextIsAllowed) {
  FakePolicy policy;
  policy.passwords["user"] = "secret";
  Session plain(test_settings(), policy, loopback_client());
  Driver d(plain);
  d.greet();
  d.input("EHLO c\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  EXPECT_EQ(d.replies.back(), "538 5.7.11 Encryption required for requested authentication mechanism\r\n");

  SessionSettings allowed = test_settings();
  allowed.allow_plaintext_auth = true;
  Session open(allowed, policy, loopback_client());
  Driver e(open);
  e.greet();
  e.input("EHLO c\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  EXPECT_EQ(e.replies.back(), kSuccess);
}

}  // namespace
}  // namespace smarthost::smtpd::test
