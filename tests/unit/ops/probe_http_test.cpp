// The HTTP providers' probes against local fakes of their read-only calls, each checking the credentials the way
// the provider does: Mailgun GET /v3/domains/{domain} (Basic api:key), SendGrid GET /v3/scopes (Bearer), Postmark
// GET /server (X-Postmark-Server-Token), SES GET /v2/email/account (SigV4, recomputed here).
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <boost/asio/io_context.hpp>

#include "conf/config.h"
#include "tests/support/fake_providers/fake_http_server.h"
#include "tests/unit/ops/ops_fakes.h"
#include "upstream/http/http_transports.h"
#include "upstream/http/sigv4.h"

namespace smarthost::ops {
namespace {

using smarthost::test::FakeAnswer;
using smarthost::test::FakeHttpServer;
using smarthost::test::HttpExchange;

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

FakeAnswer unauthorized() { return {401, {{"Content-Type", "application/json"}}, R"({"message":"Invalid credentials"})"}; }
FakeAnswer ok_json(std::string body) { return {200, {{"Content-Type", "application/json"}}, std::move(body)}; }

struct Probe {
  boost::asio::io_context io;
  conf::Config config;

  upstream::ProbeResult run(const conf::Upstream& u) {
    config.upstreams = {u};
    auto transport = upstream::http::make_http_transport(u, config, io.get_executor());
    return test::run(io, transport->probe(std::chrono::seconds(5)));
  }
};

conf::Upstream upstream_at(const FakeHttpServer& fake, conf::ProviderKind kind, conf::ProviderConfig config) {
  conf::Upstream u;
  u.name = std::string(conf::to_string(kind)) + "0";
  u.provider = kind;
  u.common.endpoint = fake.base_url();
  u.config = std::move(config);
  return u;
}

FakeHttpServer mailgun_fake() {
  return FakeHttpServer([](const HttpExchange& x) {
    if (x.method != "GET" || x.target != "/v3/domains/mg.example.com") return FakeAnswer{404, {}, "not found"};
    if (x.header("authorization") != "Basic " + base64("api:key-good")) return unauthorized();
    return ok_json(R"({"domain":{"name":"mg.example.com","state":"active"}})");
  });
}

conf::MailgunConfig mailgun(std::string key) {
  conf::MailgunConfig c;
  c.api_key = std::move(key);
  c.domain = "mg.example.com";
  return c;
}

TEST(HttpProbe, MailgunReadsTheDomain) {
  auto fake = mailgun_fake();
  Probe p;
  auto r = p.run(upstream_at(fake, conf::ProviderKind::mailgun, mailgun("key-good")));
  EXPECT_TRUE(r.ok) << r.detail;
  EXPECT_EQ(r.detail, "GET " + fake.base_url() + "/v3/domains/mg.example.com: HTTP 200");
  auto bad = p.run(upstream_at(fake, conf::ProviderKind::mailgun, mailgun("key-bad")));
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.detail.find("HTTP 401: Invalid credentials"), std::string::npos) << bad.detail;
  for (const auto& x : fake.exchanges()) EXPECT_TRUE(x.body.empty()) << "a probe sends nothing";
}

TEST(HttpProbe, SendgridReadsTheKeysScopes) {
  FakeHttpServer fake([](const HttpExchange& x) {
    if (x.method != "GET" || x.target != "/v3/scopes") return FakeAnswer{404, {}, "not found"};
    if (x.header("authorization") != "Bearer SG.good") {
      return FakeAnswer{401, {}, R"({"errors":[{"field":null,"message":"authorization required"}]})"};
    }
    return ok_json(R"({"scopes":["mail.send"]})");
  });
  Probe p;
  conf::SendgridConfig good;
  good.api_key = "SG.good";
  EXPECT_TRUE(p.run(upstream_at(fake, conf::ProviderKind::sendgrid, good)).ok);
  conf::SendgridConfig bad;
  bad.api_key = "SG.bad";
  auto r = p.run(upstream_at(fake, conf::ProviderKind::sendgrid, bad));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("HTTP 401: authorization required"), std::string::npos) << r.detail;
}

TEST(HttpProbe, PostmarkReadsTheServer) {
  FakeHttpServer fake([](const HttpExchange& x) {
    if (x.method != "GET" || x.target != "/server") return FakeAnswer{404, {}, "not found"};
    if (x.header("accept") != "application/json") return FakeAnswer{406, {}, "json only"};
    if (x.header("x-postmark-server-token") != "pm-good") {
      return FakeAnswer{401, {}, R"({"ErrorCode":10,"Message":"The Server Token you provided in the X-Postmark-Server-Token request header was invalid."})"};
    }
    return ok_json(R"({"ID":1,"Name":"relay"})");
  });
  Probe p;
  conf::PostmarkConfig good;
  good.server_token = "pm-good";
  EXPECT_TRUE(p.run(upstream_at(fake, conf::ProviderKind::postmark, good)).ok);
  conf::PostmarkConfig bad;
  bad.server_token = "pm-bad";
  auto r = p.run(upstream_at(fake, conf::ProviderKind::postmark, bad));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("HTTP 401: The Server Token"), std::string::npos) << r.detail;
}

TEST(HttpProbe, SesGetAccountIsSigned) {
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  FakeHttpServer fake([&](const HttpExchange& x) {
    if (x.method != "GET" || x.target != "/v2/email/account") return FakeAnswer{404, {}, "not found"};
    // Sign the request again as received; the signatures must match.
    upstream::http::SigV4Input input;
    input.method = x.method;
    input.path = x.target;
    input.headers = {{"Host", x.header("host")}};
    input.region = "us-east-1";
    input.service = "ses";
    input.amz_date = x.header("x-amz-date");
    auto expected = upstream::http::sign_v4(input, {"AKIDEXAMPLE", secret, ""});
    if (x.header("authorization") != expected.authorization) {
      return FakeAnswer{403, {{"x-amzn-ErrorType", "SignatureDoesNotMatch"}},
                        R"({"message":"The request signature we calculated does not match"})"};
    }
    return ok_json(R"({"SendingEnabled":true,"ProductionAccessEnabled":true})");
  });
  Probe p;
  conf::SesConfig good;
  good.aws_access_key_id = "AKIDEXAMPLE";
  good.aws_secret_access_key = secret;
  good.region = "us-east-1";
  auto r = p.run(upstream_at(fake, conf::ProviderKind::ses, good));
  EXPECT_TRUE(r.ok) << r.detail;
  conf::SesConfig bad = good;
  bad.aws_secret_access_key = "not-the-secret";
  auto refused = p.run(upstream_at(fake, conf::ProviderKind::ses, bad));
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.detail.find("HTTP 403: SignatureDoesNotMatch"), std::string::npos) << refused.detail;
}

TEST(HttpProbe, NoAnswerIsAFailure) {
  FakeHttpServer fake([](const HttpExchange&) {
    FakeAnswer a;
    a.drop = true;
    return a;
  });
  Probe p;
  auto r = p.run(upstream_at(fake, conf::ProviderKind::mailgun, mailgun("key-good")));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.detail.find("no answer"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace smarthost::ops
