// SigV4 against the public AWS test suite (get-vanilla, post-vanilla, query ordering, a session token) and an
// SES SendEmail request whose signature is checked by recomputing it from its parts.
#include "upstream/http/sigv4.h"

#include <gtest/gtest.h>

namespace smarthost::upstream::http {
namespace {

const AwsCredentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

SigV4Input suite_request(std::string method, std::string query = "") {
  SigV4Input input;
  input.method = std::move(method);
  input.path = "/";
  input.query = std::move(query);
  input.headers = {{"Host", "example.amazonaws.com"}};
  input.region = "us-east-1";
  input.service = "service";
  input.amz_date = "20150830T123600Z";
  return input;
}

TEST(SigV4, GetVanilla) {
  auto result = sign_v4(suite_request("GET"), kSuite);
  EXPECT_EQ(result.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(result.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(result.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(result.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PostVanilla) {
  auto result = sign_v4(suite_request("POST"), kSuite);
  EXPECT_EQ(result.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87");
  EXPECT_EQ(result.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, QueryIsSortedForSigning) {
  auto result = sign_v4(suite_request("GET", "Param2=value2&Param1=value1"), kSuite);
  EXPECT_EQ(result.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, AddsAndSignsTheSessionToken) {
  AwsCredentials with_token = kSuite;
  with_token.session_token = "token/with+chars";
  auto result = sign_v4(suite_request("POST"), with_token);
  EXPECT_NE(result.authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos);
  bool found = false;
  for (const auto& [name, value] : result.headers)
    if (name == "X-Amz-Security-Token") found = value == "token/with+chars";
  EXPECT_TRUE(found);
  EXPECT_NE(result.signature, sign_v4(suite_request("POST"), kSuite).signature);
}

TEST(SigV4, SignsAnSesSendEmailRequest) {
  SigV4Input input;
  input.method = "POST";
  input.path = "/v2/email/outbound-emails";
  input.headers = {{"Host", "email.eu-west-1.amazonaws.com"}, {"Content-Type", "application/json"}};
  input.body = R"({"Content":{"Raw":{"Data":"VG86IGFAYi5jCgpoaQ=="}}})";
  input.region = "eu-west-1";
  input.service = "ses";
  input.amz_date = "20240102T030405Z";
  AwsCredentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  auto result = sign_v4(input, credentials);
  EXPECT_EQ(result.canonical_request,
            "POST\n/v2/email/outbound-emails\n\ncontent-type:application/json\nhost:email.eu-west-1.amazonaws.com\n"
            "x-amz-date:20240102T030405Z\n\ncontent-type;host;x-amz-date\n" +
                sha256_hex(input.body));
  // The signature is the HMAC chain of the documented algorithm over that string to sign.
  std::string key = hmac_sha256("AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20240102");
  key = hmac_sha256(hmac_sha256(hmac_sha256(key, "eu-west-1"), "ses"), "aws4_request");
  EXPECT_EQ(result.signature, hex(hmac_sha256(key, result.string_to_sign)));
  EXPECT_EQ(result.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240102/eu-west-1/ses/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=" + result.signature);
  // Any change to the body changes the signature.
  std::string other_body = R"({"Content":{"Raw":{"Data":"VG86IGFAYi5jCgpoaQ=!"}}})";
  input.body = other_body;
  EXPECT_NE(sign_v4(input, credentials).signature, result.signature);
}

TEST(SigV4, BuildingBlocks) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(aws_uri_encode("a b/c~d*", false), "a%20b%2Fc~d%2A");
  EXPECT_EQ(aws_uri_encode("/v2/x y", true), "/v2/x%20y");
  EXPECT_EQ(amz_date(std::chrono::system_clock::time_point(std::chrono::seconds(1440938160))), "20150830T123600Z");
}

}  // namespace
}  // namespace smarthost::upstream::http
