// Scenario: `smarthost validate` against local fakes of the provider APIs. The read-only calls the checks make
// (Mailgun GET /v3/domains/{domain}, SendGrid GET /v3/scopes, Postmark GET /server, SES GET /v2/email/account
// signed with SigV4) are answered by fakes that check the credentials as the providers do: with the right key
// every check passes, with a wrong one the credentials check fails with the provider's answer and exit status 1.
// The test message goes to the strict fake Mailgun API.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "tests/support/fake_providers/fake_provider.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "upstream/http/sigv4.h"

namespace smarthost::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "key-right-0123456789";
constexpr const char* kAccessKey = "AKIDVALIDATE";
constexpr const char* kRegion = "eu-west-1";

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

FakeAnswer json(int status, std::string body) { return {status, {{"Content-Type", "application/json"}}, std::move(body)}; }

// The provider's read-only call, with its credential check.
FakeAnswer answer_probe(FakeKind kind, const HttpExchange& x) {
  if (x.method != "GET") return json(405, R"({"message":"probe calls are GETs"})");
  switch (kind) {
    case FakeKind::mailgun:
      if (x.target != "/v3/domains/mg.example.com") return json(404, R"({"message":"Domain not found"})");
      if (x.header("Authorization") != "Basic " + base64(std::string("api:") + kKey)) return json(401, "Forbidden");
      return json(200, R"({"domain":{"name":"mg.example.com","state":"active"}})");
    case FakeKind::sendgrid:
      if (x.target != "/v3/scopes") return json(404, R"({"errors":[{"message":"not found"}]})");
      if (x.header("Authorization") != std::string("Bearer ") + kKey)
        return json(401, R"({"errors":[{"field":null,"message":"authorization required"}]})");
      return json(200, R"({"scopes":["mail.send"]})");
    case FakeKind::postmark:
      if (x.target != "/server") return json(404, R"({"ErrorCode":404,"Message":"not found"})");
      if (x.header("X-Postmark-Server-Token") != kKey)
        return json(401, R"({"ErrorCode":10,"Message":"The Server Token you provided in the X-Postmark-Server-Token header was invalid."})");
      return json(200, R"({"ID":1,"Name":"validate"})");
    case FakeKind::ses: {
      if (x.target != "/v2/email/account") return json(404, R"({"message":"not found"})");
      upstream::http::SigV4Input input;
      input.method = "GET";
      input.path = x.target;
      input.headers = {{"Host", x.header("Host")}};
      input.region = kRegion;
      input.service = "ses";
      input.amz_date = x.header("X-Amz-Date");
      auto expected = upstream::http::sign_v4(input, {kAccessKey, kKey, ""});
      if (x.header("Authorization") != expected.authorization) {
        FakeAnswer a = json(403, R"({"message":"The request signature we calculated does not match the signature you provided."})");
        a.headers.push_back({"x-amzn-ErrorType", "SignatureDoesNotMatch"});
        return a;
      }
      return json(200, R"({"SendingEnabled":true,"ProductionAccessEnabled":true})");
    }
  }
  return json(500, "{}");
}

std::string upstream_toml(FakeKind kind, const std::string& endpoint, const std::string& key) {
  std::string t = "provider = \"" + std::string(to_string(kind)) + "\"\nname = \"api\"\n[config]\nendpoint = \"" +
                  endpoint + "\"\nfrom_email = \"app@example.com\"\n";
  switch (kind) {
    case FakeKind::mailgun: return t + "api_key = \"" + key + "\"\ndomain = \"mg.example.com\"\n";
    case FakeKind::sendgrid: return t + "api_key = \"" + key + "\"\n";
    case FakeKind::postmark: return t + "server_token = \"" + key + "\"\n";
    case FakeKind::ses:
      return t + "aws_access_key_id = \"" + kAccessKey + "\"\naws_secret_access_key = \"" + key + "\"\nregion = \"" +
             kRegion + "\"\n";
  }
  return t;
}

RunResult validate(const TempDir& tmp, const std::string& upstream, std::vector<std::string> more = {}) {
  auto cfg = tmp.write("smarthost.toml", upstream + "[server]\nlisten = [\"127.0.0.1:" + std::to_string(free_port()) +
                                             "\"]\n[queue]\ndir = \"" + (tmp.path() / "queue").string() + "\"\n");
  std::vector<std::string> argv{smarthost_bin().string(), "validate", "--config", cfg.string(), "--timeout", "5"};
  argv.insert(argv.end(), more.begin(), more.end());
  return run(argv, "", 60s);
}

class ValidateHttp : public ::testing::TestWithParam<FakeKind> {
 protected:
  TempDir tmp_;
  FakeHttpServer api_{[kind = GetParam()](const HttpExchange& x) { return answer_probe(kind, x); }};
};

TEST_P(ValidateHttp, PassesWithTheRightKey) {
  auto r = validate(tmp_, upstream_toml(GetParam(), api_.base_url(), kKey));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("api  connection   ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api  credentials  ok    accepted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all checks passed"), std::string::npos) << r.out;
  EXPECT_EQ(api_.exchanges().size(), 1u) << "one probe serves both checks";
}

TEST_P(ValidateHttp, FailsClearlyWithAWrongKey) {
  auto r = validate(tmp_, upstream_toml(GetParam(), api_.base_url(), "wrong-key-123456"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("api  connection   ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("api  credentials  FAIL  refused: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(GetParam() == FakeKind::ses ? "HTTP 403" : "HTTP 401"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("some checks failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("wrong-key-123456"), std::string::npos) << "the key was printed";
}

INSTANTIATE_TEST_SUITE_P(Providers, ValidateHttp,
                         ::testing::Values(FakeKind::mailgun, FakeKind::sendgrid, FakeKind::postmark, FakeKind::ses),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(ValidateHttpUnreachable, AnApiThatDoesNotAnswerFailsTheConnection) {
  TempDir tmp;
  auto r = validate(tmp, upstream_toml(FakeKind::sendgrid, "http://127.0.0.1:" + std::to_string(free_port()), kKey));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("api  connection   FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not checked, upstream unreachable"), std::string::npos) << r.out;
}

TEST(ValidateHttpSend, TheTestMessageGoesThroughTheProviderApi) {
  TempDir tmp;
  FakeProvider mailgun(FakeKind::mailgun);
  std::string upstream = "provider = \"mailgun\"\nname = \"api\"\n[config]\nendpoint = \"" + mailgun.base_url() +
                         "\"\napi_key = \"" + mailgun.credentials().api_key + "\"\ndomain = \"" +
                         mailgun.credentials().domain + "\"\nfrom_email = \"app@" + mailgun.credentials().domain +
                         "\"\n";
  auto r = validate(tmp, upstream, {"--check", "send_test_email", "--to", "ops@example.net"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("api  send_test_email  ok    sent to ops@example.net"), std::string::npos) << r.out;
  auto records = mailgun.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].problems.empty()) << records[0].problems.front();
  EXPECT_NE(records[0].raw_message.find("Subject: smarthost test message via api"), std::string::npos);
}

}  // namespace
}  // namespace smarthost::test
