// The HTTP half of the outcome classifier, as one table per provider: status and body in, outcome and the
// unhealthy / throttled marks out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "upstream/outcome_classifier.h"

namespace smarthost::upstream {
namespace {

using conf::ProviderKind;

struct Row {
  int status;
  std::string body;
  Outcome outcome;
  bool unhealthy = false;
  bool throttled = false;
};

void check_table(ProviderKind provider, const std::vector<Row>& table) {
  for (const auto& row : table) {
    auto c = classify_http(provider, row.status, row.body);
    SCOPED_TRACE(std::string(conf::to_string(provider)) + " " + std::to_string(row.status) + " " + row.body);
    EXPECT_EQ(c.outcome, row.outcome) << to_string(c.outcome);
    EXPECT_EQ(c.upstream_unhealthy, row.unhealthy);
    EXPECT_EQ(c.throttled, row.throttled);
  }
}

TEST(ClassifyHttp, Mailgun) {
  check_table(ProviderKind::mailgun,
              {
                  {200, R"({"id":"<1@mg.example>","message":"Queued. Thank you."})", Outcome::delivered},
                  {400, R"({"message":"'to' parameter is not a valid address"})", Outcome::permanent},
                  {401, "Forbidden", Outcome::upstream_refused},
                  {403, R"({"message":"Domain mg.example is not allowed to send"})", Outcome::upstream_refused},
                  {404, R"({"message":"Domain not found"})", Outcome::temporary},
                  {413, "", Outcome::permanent},
                  {429, R"({"message":"Too many requests"})", Outcome::temporary, false, true},
                  {500, "", Outcome::temporary, true},
                  {502, "", Outcome::temporary, true},
                  {503, "", Outcome::temporary, true},
                  {0, "", Outcome::temporary, true},
              });
}

TEST(ClassifyHttp, Sendgrid) {
  check_table(ProviderKind::sendgrid,
              {
                  {202, "", Outcome::delivered},
                  {200, "", Outcome::delivered},  // sandbox mode
                  {400, R"({"errors":[{"message":"Invalid email","field":"personalizations.0.to"}]})",
                   Outcome::permanent},
                  {401, R"({"errors":[{"message":"The provided authorization grant is invalid"}]})",
                   Outcome::upstream_refused},
                  {403, R"({"errors":[{"message":"The from address does not match a verified Sender Identity"}]})",
                   Outcome::upstream_refused},
                  {413, R"({"errors":[{"message":"too large"}]})", Outcome::permanent},
                  {429, R"({"errors":[{"message":"too many requests"}]})", Outcome::temporary, false, true},
                  {500, "", Outcome::temporary, true},
                  {503, "", Outcome::temporary, true},
                  {0, "", Outcome::temporary, true},
              });
}

TEST(ClassifyHttp, Postmark) {
  check_table(ProviderKind::postmark,
              {
                  {200, R"({"To":"a@b.c","SubmittedAt":"2024","MessageID":"x","ErrorCode":0,"Message":"OK"})",
                   Outcome::delivered},
                  {401, R"({"ErrorCode":10,"Message":"No Account or Server API tokens were supplied"})",
                   Outcome::upstream_refused},
                  {413, "", Outcome::permanent},
                  {422, R"({"ErrorCode":300,"Message":"Invalid email request"})", Outcome::permanent},
                  {422, R"({"ErrorCode": 400, "Message":"Sender signature not found"})", Outcome::upstream_refused},
                  {422, R"({"ErrorCode":401,"Message":"Sender signature not confirmed"})", Outcome::upstream_refused},
                  {422, R"({"ErrorCode":405,"Message":"Not allowed to send"})", Outcome::upstream_refused},
                  {422, R"({"ErrorCode":406,"Message":"You tried to send to a recipient that has been marked as inactive."})",
                   Outcome::permanent},
                  {422, R"({"ErrorCode":411,"Message":"Forbidden attachment type"})", Outcome::permanent},
                  {422, R"({"ErrorCode":412,"Message":"Account pending approval"})", Outcome::upstream_refused},
                  {422, R"({"ErrorCode":413,"Message":"Account pending approval"})", Outcome::upstream_refused},
                  {422, R"({"Message":"no code"})", Outcome::permanent},
                  {429, "", Outcome::temporary, false, true},
                  {500, "", Outcome::temporary, true},
                  {503, "", Outcome::temporary, true},
                  {0, "", Outcome::temporary, true},
                  // One element of a /email/batch answer (always HTTP 200).
                  {200, R"({"ErrorCode":406,"Message":"inactive recipient"})", Outcome::permanent},
                  {200, R"({"ErrorCode":300,"Message":"Invalid 'To' address"})", Outcome::permanent},
                  {200, R"({"ErrorCode":100,"Message":"Maintenance"})", Outcome::temporary, true},
              });
}

TEST(ClassifyHttp, Ses) {
  check_table(ProviderKind::ses,
              {
                  {200, R"({"MessageId":"0100018c-abc"})", Outcome::delivered},
                  {429, R"(TooManyRequestsException {"message":"Too Many Requests"})", Outcome::temporary, false,
                   true},
                  {400, R"(ThrottlingException {"message":"Maximum sending rate exceeded."})", Outcome::temporary,
                   false, true},
                  {400, R"({"__type":"Throttling","message":"Daily message quota exceeded."})", Outcome::temporary,
                   false, true},
                  {400, R"(LimitExceededException {"message":"limit"})", Outcome::temporary, false, true},
                  {400, R"(SendingPausedException {"message":"Sending is paused for this account."})",
                   Outcome::temporary, true},
                  {400, R"(MessageRejected {"message":"Email address is not verified."})", Outcome::upstream_refused},
                  {400, R"(MessageRejected {"message":"Illegal header"})", Outcome::permanent},
                  {400, R"(BadRequestException {"message":"Missing final '@domain'"})", Outcome::permanent},
                  {400, R"(MailFromDomainNotVerifiedException {"message":"x"})", Outcome::upstream_refused},
                  {400, R"(AccountSuspendedException {"message":"x"})", Outcome::upstream_refused},
                  {404, R"(NotFoundException {"message":"Configuration set does not exist"})",
                   Outcome::upstream_refused},
                  {403, R"(InvalidSignatureException {"message":"signature"})", Outcome::upstream_refused},
                  {403, R"({"message":"The security token included in the request is invalid."})",
                   Outcome::upstream_refused},
                  {500, R"(InternalFailure {"message":""})", Outcome::temporary, true},
                  {503, "", Outcome::temporary, true},
                  {0, "", Outcome::temporary, true},
              });
}

}  // namespace
}  // namespace smarthost::upstream
